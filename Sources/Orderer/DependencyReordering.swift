import Foundation
import LedgerCore
import LedgerWire

/// Fabric++-style reordering of a cut batch by the read/write dependencies of its endorser
/// transactions, done once by the orderer before the block is built and signed, so every peer
/// validates the same order and the block stays an ordinary Fabric block.
///
/// A peer's read conflict check marks a transaction invalid when an *earlier valid* transaction of
/// the same block wrote a key it read (or a key inside a range it queried). So within a block, a
/// reader of key k should come before the writers of k. The conflict graph has an edge
/// `reader → writer` for every such pair; a cycle in it (two read-modify-writes of one key, say)
/// means not all of its transactions can be valid.
///
/// The algorithm, deterministic for a given batch:
/// 1. Envelopes that are not endorser transactions, or whose read/write set does not decode, stay
///    at their index; they split the batch into segments, and each segment is reordered alone.
/// 2. In a segment, transactions are taken in order of increasing conflict degree (ties: original
///    order) and kept when they close no cycle among the transactions kept so far; the others are
///    *doomed*: at least one of their conflicts is kept.
/// 3. The kept transactions are placed in a topological order of the graph (readers first; ties:
///    original order), followed by the doomed ones in their original order.
///
/// Nothing is removed: a doomed transaction was acknowledged to its broadcaster and stays in the
/// block, where the peers' read conflict check normally marks it `MVCC_READ_CONFLICT` (or, when
/// the kept transaction it conflicts with turns out invalid itself, finds it valid). The client
/// learns its final status as for any other transaction.
package enum DependencyReordering {
    /// What a reordering did to one batch.
    package struct Outcome: Sendable, Equatable {
        /// The envelopes in block order.
        package var envelopes: [Data]
        /// Endorser transactions moved behind the others because they close a conflict cycle.
        package var doomed: Int
        /// Envelopes whose position changed.
        package var moved: Int
    }

    /// Reorders `envelopes` as described above.
    package static func reorder(_ envelopes: [Data]) -> Outcome {
        let accesses = envelopes.map(KeyAccesses.init(envelope:))
        var order: [Int] = []
        order.reserveCapacity(envelopes.count)
        var doomedCount = 0
        var segment: [Int] = []
        func flush() {
            let (kept, doomed) = orderSegment(segment, accesses)
            order += kept + doomed
            doomedCount += doomed.count
            segment.removeAll(keepingCapacity: true)
        }
        for index in envelopes.indices {
            if accesses[index] == nil {
                flush()
                order.append(index)
            } else {
                segment.append(index)
            }
        }
        flush()
        precondition(order.count == envelopes.count && Set(order).count == envelopes.count, "reordering must be a permutation of the batch")
        return Outcome(
            envelopes: order.map { envelopes[$0] }, doomed: doomedCount,
            moved: zip(order, order.indices).count { $0 != $1 })
    }

    /// Orders one segment (indexes into the batch, ascending): the kept transactions in
    /// topological order, and the doomed ones in original order.
    static func orderSegment(_ segment: [Int], _ accesses: [KeyAccesses?]) -> (kept: [Int], doomed: [Int]) {
        guard segment.count > 1 else { return (segment, []) }
        let graph = ConflictGraph(segment.map { accesses[$0]! })
        let count = segment.count
        // Lowest conflict degree first, so that a transaction in many conflicts does not push
        // several others out.
        let candidates = (0..<count).sorted { (graph.degree($0), $0) < (graph.degree($1), $1) }
        var kept = [Bool](repeating: false, count: count)
        var doomed: [Int] = []
        for vertex in candidates {
            if graph.closesCycle(vertex, kept: kept) {
                doomed.append(vertex)
            } else {
                kept[vertex] = true
            }
        }
        let order = graph.topologicalOrder(of: kept)
        return (order.map { segment[$0] }, doomed.sorted().map { segment[$0] })
    }
}

/// The keys an endorser transaction reads and writes, as `namespace U+0000 key`.
struct KeyAccesses: Sendable {
    var reads: [String] = []
    var writes: [String] = []
    /// Range queries: a write of any key in [start, end) (end empty: no bound) of the namespace
    /// conflicts with them.
    var ranges: [(namespace: String, start: String, end: String)] = []

    /// nil for an envelope that is not an endorser transaction or does not decode.
    init?(envelope bytes: Data) {
        guard let envelope = try? TransactionEnvelope(serialized: bytes), envelope.headerType == .endorserTransaction,
            let transaction = try? EndorserTransaction(payloadData: envelope.payload.data)
        else { return nil }
        for (namespace, set) in transaction.readWriteSets {
            reads += set.reads.map { Self.id(namespace, $0.key) }
            writes += set.writes.map { Self.id(namespace, $0.key) }
            writes += set.metadataWrites.map { Self.id(namespace, $0.key) }
            ranges += set.rangeQueriesInfo.map { (namespace: namespace, start: $0.startKey, end: $0.endKey) }
        }
    }

    init(reads: [String], writes: [String]) {
        self.reads = reads
        self.writes = writes
    }

    static func id(_ namespace: String, _ key: String) -> String { namespace + "\u{0}" + key }

    /// Whether `id` (namespace U+0000 key) lies in one of the range queries.
    func rangeCovers(_ id: String) -> Bool {
        guard !ranges.isEmpty, let separator = id.firstIndex(of: "\u{0}") else { return false }
        let namespace = id[..<separator]
        let key = id[id.index(after: separator)...]
        return ranges.contains { range in
            range.namespace == namespace && !key.utf8.lexicographicallyPrecedes(range.start.utf8)
                && (range.end.isEmpty || key.utf8.lexicographicallyPrecedes(range.end.utf8))
        }
    }
}

/// The conflict graph of one segment: `successors[v]` are the transactions that must come after v
/// for v to stay valid (they write what v reads); `predecessors[v]` the reverse edges.
struct ConflictGraph {
    private(set) var successors: [[Int]]
    private(set) var predecessors: [[Int]]

    init(_ accesses: [KeyAccesses]) {
        let count = accesses.count
        var writers: [String: [Int]] = [:]
        for (vertex, access) in accesses.enumerated() {
            for key in Set(access.writes) { writers[key, default: []].append(vertex) }
        }
        var successors = [[Int]](repeating: [], count: count)
        for (vertex, access) in accesses.enumerated() {
            var targets = Set<Int>()
            for key in access.reads { for writer in writers[key] ?? [] where writer != vertex { targets.insert(writer) } }
            if !access.ranges.isEmpty {
                for (key, keyWriters) in writers where access.rangeCovers(key) {
                    for writer in keyWriters where writer != vertex { targets.insert(writer) }
                }
            }
            successors[vertex] = targets.sorted()
        }
        var predecessors = [[Int]](repeating: [], count: count)
        for (vertex, targets) in successors.enumerated() { for target in targets { predecessors[target].append(vertex) } }
        self.successors = successors
        self.predecessors = predecessors
    }

    func degree(_ vertex: Int) -> Int { successors[vertex].count + predecessors[vertex].count }

    /// Whether adding `vertex` to the kept (acyclic) subgraph closes a cycle through it: some kept
    /// successor of it reaches, through kept vertices, a kept predecessor of it.
    func closesCycle(_ vertex: Int, kept: [Bool]) -> Bool {
        let targets = Set(predecessors[vertex].filter { kept[$0] })
        guard !targets.isEmpty else { return false }
        var stack = successors[vertex].filter { kept[$0] }
        var seen = Set(stack)
        while let next = stack.popLast() {
            if targets.contains(next) { return true }
            for successor in successors[next] where kept[successor] && seen.insert(successor).inserted {
                stack.append(successor)
            }
        }
        return false
    }

    /// The kept vertices in a topological order (an edge's reader before its writer), the lowest
    /// original index first among those ready. The kept subgraph must be acyclic.
    func topologicalOrder(of kept: [Bool]) -> [Int] {
        var waitingFor = [Int](repeating: 0, count: kept.count)
        for vertex in kept.indices where kept[vertex] {
            waitingFor[vertex] = predecessors[vertex].count { kept[$0] }
        }
        var ready = MinHeap(kept.indices.filter { kept[$0] && waitingFor[$0] == 0 })
        var order: [Int] = []
        while let vertex = ready.pop() {
            order.append(vertex)
            for successor in successors[vertex] where kept[successor] {
                waitingFor[successor] -= 1
                if waitingFor[successor] == 0 { ready.push(successor) }
            }
        }
        precondition(order.count == kept.count { $0 }, "the kept transactions must form an acyclic graph")
        return order
    }
}

/// A binary min-heap of integers.
private struct MinHeap {
    private var items: [Int] = []

    init(_ values: [Int]) { for value in values { push(value) } }

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left] < items[smallest] { smallest = left }
            if right < items.count, items[right] < items[smallest] { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
