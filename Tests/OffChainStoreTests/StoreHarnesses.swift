import Foundation
import Logging
import PostgresNIO
import Synchronization
import TestSupport
import Testing
import WorldState

@testable import OffChainStore

/// The backends the shared suite runs against.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case postgres
    case embedded
    /// The test double, held to the same semantics.
    case inMemory

    /// The backends that write files.
    static let onDisk: [StoreBackend] = [.postgres, .embedded]

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty store of this backend, removed afterwards.
    func withHarness<T: Sendable>(clock: TestClock, _ body: (any StoreHarness) async throws -> T) async throws -> T {
        switch self {
        case .postgres: try await PostgresHarness.with(clock: clock, body)
        case .embedded: try await EmbeddedHarness.with(clock: clock, body)
        case .inMemory: try await body(InMemoryHarness(clock: clock))
        }
    }
}

/// A store under test, with access to its storage beneath the store's API.
protocol StoreHarness: Sendable {
    var store: any OffChainStore { get }
    /// Changes one byte of a stored ciphertext directly in the backing storage (SQL, or RocksDB).
    func corruptCiphertextByte(recordID: String, version: UInt32) async throws
    /// Flushes what the backend buffers, then returns the directory holding every file it wrote.
    func flushedStorageDirectory() async throws -> URL
    /// Has the backend give back the space of deleted rows, as its operator would (PostgreSQL:
    /// VACUUM FULL; the embedded store compacts by itself when it erases).
    func reclaimDeletedSpace() async throws
}

extension StoreHarness {
    func reclaimDeletedSpace() async throws {}
}

/// A clock the tests set by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }
    var read: @Sendable () -> Date { { [self] in now } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// One PostgreSQL server per test process, started on first use and stopped at the end of the
/// suite (`PostgresServerScope`). Each test gets a database of its own.
actor SharedPostgresServer {
    @TaskLocal static var current: SharedPostgresServer?

    private var server: PostgresServer?

    func get() async throws -> PostgresServer {
        if let server { return server }
        let started = try await PostgresServer.start(timeout: .seconds(90))
        server = started
        return started
    }

    func stop() {
        server?.stop()
        server = nil
    }
}

/// Gives the suite one `SharedPostgresServer` and stops its server when the suite ends, pass or fail.
struct PostgresServerScope: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let shared = SharedPostgresServer()
        do {
            try await SharedPostgresServer.$current.withValue(shared) { try await function() }
        } catch {
            await shared.stop()
            throw error
        }
        await shared.stop()
    }
}

extension Trait where Self == PostgresServerScope {
    /// Runs the suite with a shared throwaway PostgreSQL server (started only if a test asks for it).
    static var postgresServer: Self { PostgresServerScope() }
}

final class PostgresHarness: StoreHarness {
    let store: any OffChainStore
    let client: PostgresClient
    let server: PostgresServer

    private init(store: any OffChainStore, client: PostgresClient, server: PostgresServer) {
        self.store = store
        self.client = client
        self.server = server
    }

    static func with<T: Sendable>(clock: TestClock, _ body: (PostgresHarness) async throws -> T) async throws -> T {
        guard let shared = SharedPostgresServer.current else {
            throw PostgresServerError("the suite needs the .postgresServer trait")
        }
        let server = try await shared.get()
        let database = "offchain_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        try await withClient(server: server, database: server.database) { client in
            // Identifiers cannot be bound; this one is generated above from hex digits only.
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"))
        }
        return try await withClient(server: server, database: database) { client in
            let store = try await PostgresOffChainStore.open(client: client, now: clock.read)
            return try await body(PostgresHarness(store: store, client: client, server: server))
        }
    }

    /// Runs `body` with a running client of `database`, then shuts the client down.
    static func withClient<T: Sendable>(server: PostgresServer, database: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        var configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: server.port, username: server.username, password: nil, database: database,
            tls: .require(try PostgresTLS(rootCAs: [server.caCertificate]).configuration()))
        configuration.options.maximumConnections = 4
        configuration.options.connectTimeout = .seconds(30)
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    func corruptCiphertextByte(recordID: String, version: UInt32) async throws {
        let rows = try await client.query(
            """
            UPDATE phi_record_versions SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1)
            WHERE record_id = \(recordID) AND version = \(Int64(version)) RETURNING version
            """)
        var count = 0
        for try await _ in rows { count += 1 }
        #expect(count == 1)
    }

    func flushedStorageDirectory() async throws -> URL {
        try await client.query("CHECKPOINT")
        return server.dataDirectory
    }

    func reclaimDeletedSpace() async throws {
        try await client.query("VACUUM FULL phi_record_versions")
        try await client.query("VACUUM FULL phi_wrapped_keys")
    }
}

final class EmbeddedHarness: StoreHarness {
    private let current: Mutex<EmbeddedOffChainStore>
    private let directory: URL
    private let clock: TestClock

    var store: any OffChainStore { current.withLock { $0 } }

    private init(store: EmbeddedOffChainStore, directory: URL, clock: TestClock) {
        current = Mutex(store)
        self.directory = directory
        self.clock = clock
    }

    static func with<T: Sendable>(clock: TestClock, _ body: (any StoreHarness) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrex-offchain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let harness = EmbeddedHarness(store: try EmbeddedOffChainStore(directory: directory, now: clock.read), directory: directory, clock: clock)
        defer { try? harness.current.withLock { try $0.close() } }
        return try await body(harness)
    }

    /// Closes the store, rewrites the row through RocksDB itself with one ciphertext byte flipped,
    /// and opens the store again.
    func corruptCiphertextByte(recordID: String, version: UInt32) async throws {
        try current.withLock { store in
            try store.close()
            do {
                let database = try RocksDatabase(path: directory.path, columnFamilies: [EmbeddedOffChainStore.versionsFamily, EmbeddedOffChainStore.pendingFamily])
                let family = database.columnFamily(EmbeddedOffChainStore.versionsFamily)
                let key = EmbeddedRowEncoding.versionKey(recordID, version)
                let bytes = try #require(try database.get(key, in: family))
                var row = try JSONDecoder().decode(EmbeddedRow.self, from: Data(bytes))
                row.ciphertext[row.ciphertext.startIndex] ^= 1
                let batch = database.makeWriteBatch()
                batch.put(key, Array(try JSONEncoder().encode(row)), in: family)
                try database.write(batch, sync: true)
                try database.close()
            }
            store = try EmbeddedOffChainStore(directory: directory, now: clock.read)
        }
    }

    func flushedStorageDirectory() async throws -> URL { directory }
}

final class InMemoryHarness: StoreHarness {
    private let memory: InMemoryOffChainStore
    var store: any OffChainStore { memory }

    init(clock: TestClock) { memory = InMemoryOffChainStore(now: clock.read) }

    func corruptCiphertextByte(recordID: String, version: UInt32) async throws {
        memory.replaceStoredVersion(recordID: recordID, version: version) { stored in
            var ciphertext = stored.encrypted.sealed.ciphertext
            ciphertext[ciphertext.startIndex] ^= 1
            let sealed = stored.encrypted.sealed
            let changed = SealedRecord(
                recordID: sealed.recordID, version: sealed.version, ciphertext: ciphertext, nonce: sealed.nonce,
                plaintextDigest: sealed.plaintextDigest, algorithm: sealed.algorithm)
            return StoredRecordVersion(
                encrypted: EncryptedRecordVersion(sealed: changed, wrappedKeys: stored.encrypted.wrappedKeys), createdAt: stored.createdAt, state: stored.state)
        }
    }

    func flushedStorageDirectory() async throws -> URL {
        throw PostgresServerError("the in-memory store writes no files")
    }
}
