/// `phrase` with "a" or "an" in front, chosen by how its first word sounds, so messages
/// read "an llm agent", "an `approve` task", "a user" and "an hour". Backquotes and
/// other punctuation in front of the word are skipped.
public func withArticle(_ phrase: String) -> String {
    (startsWithVowelSound(phrase) ? "an " : "a ") + phrase
}

/// Whether the first word of `phrase` is spoken starting with a vowel sound.
func startsWithVowelSound(_ phrase: String) -> Bool {
    let word = phrase.drop { !$0.isLetter && !$0.isNumber }.prefix { $0.isLetter || $0.isNumber }.lowercased()
    guard let first = word.first else { return false }
    if first.isNumber {
        // 8, 11, 18, 80…: "an 8-hour run"; every other leading digit takes "a".
        return first == "8" || word.hasPrefix("11") || word.hasPrefix("18")
    }
    let vowels: Set<Character> = ["a", "e", "i", "o", "u"]
    // A word with no vowel is spelt out letter by letter (llm, http, sql): the letter's
    // name decides ("el", "aitch", "ess" start with a vowel sound; "bee", "dee" do not).
    if !word.contains(where: { vowels.contains($0) || $0 == "y" }) {
        return "aefhilmnorsx".contains(first)
    }
    // Vowel letters with a consonant sound ("a user", "a one-off"), silent h ("an hour").
    for p in ["uni", "use", "usu", "uti", "uri", "url", "eu", "one", "once"] where word.hasPrefix(p) { return false }
    for p in ["hour", "honest", "honor", "honour", "heir"] where word.hasPrefix(p) { return true }
    return vowels.contains(first)
}
