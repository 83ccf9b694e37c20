import Foundation
import Testing

@testable import Orderer

@Suite struct BlockCutterTests {
    func envelope(_ size: Int, _ tag: UInt8 = 0) -> Data { Data(repeating: tag, count: size) }

    @Test func cutsAtMaxMessageCount() throws {
        var cutter = BlockCutter(limits: BatchLimits(maxMessageCount: 3, absoluteMaxBytes: 1000, preferredMaxBytes: 500))
        #expect(try cutter.append(envelope(10, 1)).isEmpty)
        #expect(try cutter.append(envelope(10, 2)).isEmpty)
        let batches = try cutter.append(envelope(10, 3))
        #expect(batches.map { $0.map(\.first) } == [[1, 2, 3]])
        #expect(!cutter.hasPending)
    }

    @Test func cutsBeforeExceedingPreferredBytes() throws {
        var cutter = BlockCutter(limits: BatchLimits(maxMessageCount: 100, absoluteMaxBytes: 1000, preferredMaxBytes: 100))
        #expect(try cutter.append(envelope(60, 1)).isEmpty)
        let batches = try cutter.append(envelope(60, 2))
        #expect(batches.map { $0.map(\.first) } == [[1]])
        #expect(cutter.hasPending)
        #expect(cutter.cut().map(\.first) == [2])
    }

    @Test func oversizedEnvelopeGoesAloneAfterThePendingBatch() throws {
        var cutter = BlockCutter(limits: BatchLimits(maxMessageCount: 100, absoluteMaxBytes: 1000, preferredMaxBytes: 100))
        _ = try cutter.append(envelope(10, 1))
        let batches = try cutter.append(envelope(200, 2))
        #expect(batches.map { $0.map(\.first) } == [[1], [2]])
        #expect(!cutter.hasPending)
    }

    @Test func refusesEnvelopesOverTheAbsoluteMaximumAndKeepsPending() throws {
        var cutter = BlockCutter(limits: BatchLimits(maxMessageCount: 100, absoluteMaxBytes: 1000, preferredMaxBytes: 100))
        _ = try cutter.append(envelope(10, 1))
        #expect(throws: OrdererError.self) { try cutter.append(envelope(1001)) }
        #expect(cutter.cut().map(\.first) == [1])
        #expect(cutter.cut().isEmpty)
    }

    @Test func sameInputGivesSameBlocks() throws {
        var generator = SystemRandomNumberGenerator()
        let sizes = (0..<500).map { _ in Int.random(in: 1...300, using: &generator) }
        func run() throws -> [[Int]] {
            var cutter = BlockCutter(limits: BatchLimits(maxMessageCount: 7, absoluteMaxBytes: 1000, preferredMaxBytes: 400))
            var blocks: [[Int]] = []
            for size in sizes { blocks += try cutter.append(envelope(size)).map { $0.map(\.count) } }
            blocks.append(cutter.cut().map(\.count))
            return blocks
        }
        let first = try run()
        #expect(try run() == first)
        #expect(first.flatMap { $0 } == sizes)
        for block in first.dropLast() {
            #expect(block.count <= 7)
            #expect(block.count == 1 || block.reduce(0, +) <= 400)
        }
    }
}
