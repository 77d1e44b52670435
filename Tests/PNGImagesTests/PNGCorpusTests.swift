import ClientCore
import Envelope
import Foundation
import Testing
@testable import PNGImages

/// Replays the checked-in hostile inputs under `Corpus/` (made by `make_corpus.py`, outcomes in
/// `Corpus/expected.txt`) as ordinary tests: each must be refused with the named error, never
/// crash, and never be half-accepted.
@Suite struct PNGCorpusTests {
    enum Outcome: Equatable, CustomStringConvertible {
        case valid(width: Int, height: Int)
        case refused(ImageError)
        /// `corrupt(reason:)` carries libpng's message, which is not ours to pin.
        case corrupt

        init?(_ words: [Substring]) {
            switch words.first {
            case "valid" where words.count == 3:
                guard let w = Int(words[1]), let h = Int(words[2]) else { return nil }
                self = .valid(width: w, height: h)
            case "empty": self = .refused(.empty)
            case "notPNG": self = .refused(.notPNG)
            case "truncated": self = .refused(.truncated)
            case "corrupt": self = .corrupt
            case "dimensionsTooLarge" where words.count == 3:
                guard let w = Int(words[1]), let h = Int(words[2]) else { return nil }
                self = .refused(.dimensionsTooLarge(width: w, height: h, limit: EnvelopeLimits.maxImageDimension))
            default: return nil
            }
        }

        init(of result: Result<ValidatedImage, ImageError>) {
            switch result {
            case .success(let image): self = .valid(width: image.width, height: image.height)
            case .failure(.corrupt): self = .corrupt
            case .failure(let error): self = .refused(error)
            }
        }

        var description: String {
            switch self {
            case .valid(let w, let h): "valid \(w)x\(h)"
            case .refused(let error): "\(error)"
            case .corrupt: "corrupt"
            }
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let file: String
        let expectation: String
        var testDescription: String { file }
    }

    static let corpus: URL? = Bundle.module.url(forResource: "Corpus", withExtension: nil)

    static func cases() throws -> [Case] {
        guard let corpus else { return [] }
        let text = try String(contentsOf: corpus.appendingPathComponent("expected.txt"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let words = line.split(separator: " ", maxSplits: 1)
            return Case(file: String(words[0]), expectation: words.count > 1 ? String(words[1]) : "")
        }
    }

    @Test func corpusIsPresentAndEveryFileHasAnExpectation() throws {
        let corpus = try #require(Self.corpus)
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus.path).filter { $0 != "expected.txt" }
        let listed = try Self.cases().map(\.file)
        #expect(Set(files) == Set(listed))
        #expect(listed.count >= 20)
    }

    @Test(arguments: try cases())
    func corpusFileGivesItsExpectedOutcome(_ testCase: Case) throws {
        let corpus = try #require(Self.corpus)
        let bytes = try [UInt8](Data(contentsOf: corpus.appendingPathComponent(testCase.file)))
        let expected = try #require(Outcome(testCase.expectation.split(separator: " ")), "bad expectation line")
        let validator = LibPNGImageValidator()

        let validated = Result { () throws(ImageError) in try validator.validate(UntrustedImage(bytes: bytes, fileName: testCase.file)) }
        #expect(Outcome(of: validated) == expected)

        // decode applies the same checks, so it must agree.
        let decoded = Result { () throws(ImageError) in try validator.decode(bytes) }
        switch (decoded, expected) {
        case (.success(let image), .valid(let w, let h)): #expect(image.width == w && image.height == h)
        case (.failure(.corrupt), .corrupt): break
        case (.failure(let error), .refused(let refusal)): #expect(error == refusal)
        default: Issue.record("decode gave \(decoded), expected \(expected)")
        }
    }

    @Test func corruptInputsCarryLibpngsMessage() throws {
        let corpus = try #require(Self.corpus)
        let bytes = try [UInt8](Data(contentsOf: corpus.appendingPathComponent("idat-bad-crc.png")))
        #expect(throws: ImageError.corrupt(reason: "IDAT: CRC error")) {
            try LibPNGImageValidator().validate(UntrustedImage(bytes: bytes))
        }
    }

    @Test func oneByteOverTheSizeLimitIsRefusedBeforeParsing() {
        // Generated, not committed: a valid signature followed by 10 MiB of zeros.
        var bytes = [UInt8](repeating: 0, count: EnvelopeLimits.maxImageBytes + 1)
        bytes.replaceSubrange(0..<8, with: PNGFixture.signature)
        #expect(throws: ImageError.tooLarge(bytes: EnvelopeLimits.maxImageBytes + 1, limit: EnvelopeLimits.maxImageBytes)) {
            try LibPNGImageValidator().validate(UntrustedImage(bytes: bytes))
        }
    }

    @Test func everyPrefixOfAValidPNGIsRefusedWithoutCrashing() throws {
        let corpus = try #require(Self.corpus)
        let valid = try [UInt8](Data(contentsOf: corpus.appendingPathComponent("valid-16x16.png")))
        let validator = LibPNGImageValidator()
        // Every cut before the IEND chunk loses image data or a CRC; only a missing (or partial)
        // IEND may be tolerated, as libpng stops reading after the last row.
        let iendStart = valid.count - 12
        for length in 1..<iendStart {
            let prefix = Array(valid.prefix(length))
            do {
                _ = try validator.validate(UntrustedImage(bytes: prefix))
                Issue.record("a \(length)-byte prefix validated")
            } catch {
                #expect(error == .truncated || { if case .corrupt = error { true } else { false } }(), "length \(length): \(error)")
            }
        }
    }
}
