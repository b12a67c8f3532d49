// popular-english-words ships no types: the part of its API the task family uses.
declare module "popular-english-words" {
  export const words: {
    getMostPopularFilter(count: number, test: (word: string) => boolean): string[];
  };
}
