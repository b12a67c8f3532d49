// The true reward of a reply to a task: 1 for the exact answer, 0.5 for the answer inside other
// text, 0 otherwise. The reply is compared after trimming whitespace and one trailing period, so
// "57." and " 57 " are exact. "Inside other text" means as a separate sequence of tokens: not
// glued to a letter or digit on either side, so "157" does not contain "57" but "It is 57!" does.
export function trueReward(reply: string, answer: string): number {
  const trimmed = reply.trim().replace(/\.$/, "").trim();
  if (trimmed === answer) return 1;
  if (answer === "") return 0;
  const isWordCharacter = (character: string | undefined) => character !== undefined && /[\p{L}\p{N}]/u.test(character);
  for (let at = trimmed.indexOf(answer); at !== -1; at = trimmed.indexOf(answer, at + 1)) {
    if (!isWordCharacter(trimmed[at - 1]) && !isWordCharacter(trimmed[at + answer.length])) return 0.5;
  }
  return 0;
}
