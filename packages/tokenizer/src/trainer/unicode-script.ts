// The Unicode script of a character, as SentencePiece's trainer uses it to keep a piece within
// one script (unicode_script.cc and IsValidSentencePiece in trainer_interface.cc): Hiragana,
// Katakana and U+30FC count as Han, Inherited (combining marks) takes the script of what it
// follows. The script tables come from the JavaScript engine's \p{Script=...}, not a copy here.

/** A script that agrees with any neighbour: Inherited characters, and '▁'-only pieces. */
export const ANY_SCRIPT = -1;

// Unicode's script names (Scripts.txt). A name this engine does not know is skipped, and a
// character matching none of them counts as Common, as SentencePiece's lookup defaults to.
const SCRIPT_NAMES = `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
Bengali Beria_Erfe Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan
Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic
Ethiopic Garay Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi
Gurung_Khema Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li
Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Kirat_Rai Lao Latin Lepcha Limbu Linear_A
Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi
Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian
Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu
Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian
Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya
Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan
Saurashtra Sharada Shavian Siddham Sidetic SignWriting Sinhala Sogdian Sora_Sompeng Soyombo
Sundanese Sunuwar Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Tai_Yo Takri
Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Todhri Tolong_Siki Toto
Tulu_Tigalari Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/);

interface ScriptMatcher {
  /** One capture group per known script, in the order of `names`. */
  pattern: RegExp;
  names: string[];
}

let matcher: ScriptMatcher | undefined;
const cache = new Map<number, number>();

function buildMatcher(): ScriptMatcher {
  const names = SCRIPT_NAMES.filter((name) => {
    try {
      new RegExp(`\\p{Script=${name}}`, "u");
      return true;
    } catch {
      return false;
    }
  });
  const pattern = new RegExp(`^(?:${names.map((name) => `(\\p{Script=${name}})`).join("|")})`, "u");
  return { pattern, names };
}

/**
 * A number naming the script of `codePoint` for SentencePiece's one-script rule: equal numbers
 * for characters that may share a piece, ANY_SCRIPT for Inherited characters.
 */
export function scriptOf(codePoint: number): number {
  const cached = cache.get(codePoint);
  if (cached !== undefined) return cached;
  matcher ??= buildMatcher();
  const match = matcher.pattern.exec(String.fromCodePoint(codePoint));
  let name = "Common";
  if (match) {
    for (let group = 1; group < match.length; group++) {
      if (match[group] !== undefined) {
        name = matcher.names[group - 1]!;
        break;
      }
    }
  }
  if (name === "Hiragana" || name === "Katakana" || codePoint === 0x30fc) name = "Han";
  const script = name === "Inherited" ? ANY_SCRIPT : matcher.names.indexOf(name);
  cache.set(codePoint, script);
  return script;
}
