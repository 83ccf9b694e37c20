import Foundation
import RPCTransport

/// A running node under fuzzing: where it listens, what it serves and, when the fuzzer may look,
/// its process and log.
package struct FuzzTarget: Sendable, Hashable {
    package let name: String
    package let role: FuzzedMethod.Role
    package let address: NodeAddress
    /// Checked after every batch: the process must still run (not exited, not a zombie).
    package let processID: Int32?
    /// Its tail goes into the report when the node fails.
    package let logFile: URL?

    package init(name: String, role: FuzzedMethod.Role, address: NodeAddress, processID: Int32? = nil, logFile: URL? = nil) {
        self.name = name
        self.role = role
        self.address = address
        self.processID = processID
        self.logFile = logFile
    }
}
