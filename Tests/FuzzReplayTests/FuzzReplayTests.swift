import Foundation
import FuzzProperties
import Testing

/// Replays every committed fuzz input as an ordinary test: the seed corpora (`Fuzz/Corpus/<target>/`)
/// and every input a fuzzer ever found failing (`Fuzz/Crashes/<target>/`), through the same
/// property checks the libFuzzer executables in `Fuzz/` run. A crash input stays here after its
/// bug is fixed, so the bug cannot come back unnoticed.
///
/// `PARLEY_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzReplayTests` regenerates the seed corpora
/// from ``FuzzTarget/seeds`` (real encodings), as `make fuzz-seeds` does.
@Suite struct FuzzReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target.name)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return try names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func seedsSatisfyTheProperty(_ name: String) throws {
        let target = try #require(FuzzTarget.all.first { $0.name == name })
        let seeds = target.seeds()
        #expect(!seeds.isEmpty)
        if ProcessInfo.processInfo.environment["PARLEY_WRITE_FUZZ_SEEDS"] == "1" {
            let directory = Self.fuzzDirectory.appendingPathComponent("Corpus").appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (index, seed) in seeds.enumerated() {
                try Data(seed).write(to: directory.appendingPathComponent(String(format: "seed-%02d", index)))
            }
        }
        for (index, seed) in seeds.enumerated() {
            #expect(throws: Never.self, "seed \(index)") { try target.check(seed) }
        }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func committedCorpusSatisfiesTheProperty(_ name: String) throws {
        let target = try #require(FuzzTarget.all.first { $0.name == name })
        let corpus = try Self.inputs("Corpus", target)
        #expect(!corpus.isEmpty, "no seed corpus in Fuzz/Corpus/\(name)")
        for input in corpus {
            #expect(throws: Never.self, "Fuzz/Corpus/\(name)/\(input.name)") { try target.check(input.bytes) }
        }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func everyCrashFoundSoFarIsFixed(_ name: String) throws {
        let target = try #require(FuzzTarget.all.first { $0.name == name })
        for input in try Self.inputs("Crashes", target) {
            #expect(throws: Never.self, "Fuzz/Crashes/\(name)/\(input.name)") { try target.check(input.bytes) }
        }
    }
}
