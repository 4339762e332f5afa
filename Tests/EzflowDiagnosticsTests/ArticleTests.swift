import EzflowDiagnostics
import XCTest

/// Messages put "a" or "an" by sound, not by letter.
final class ArticleTests: XCTestCase {
    func testArticleFollowsTheSound() {
        let cases: [(String, String)] = [
            ("llm agent", "an llm agent"), ("http agent", "an http agent"), ("exec agent", "an exec agent"),
            ("sim agent", "a sim agent"), ("role", "a role"), ("agent", "an agent"),
            ("`approve` task", "an `approve` task"), ("`run` task", "a `run` task"),
            ("`Arch` value", "an `Arch` value"), ("user", "a user"), ("unit", "a unit"),
            ("URL", "a URL"), ("hour", "an hour"), ("one-off", "a one-off"),
            ("8-hour run", "an 8-hour run"), ("3-hour run", "a 3-hour run"),
            ("exec/http agent", "an exec/http agent"), ("", "a "),
        ]
        for (noun, want) in cases { XCTAssertEqual(withArticle(noun), want) }
    }
}
