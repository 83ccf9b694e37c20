import Foundation

/// CPU use of the network's processes on this machine while a bench runs, read from Linux's
/// `/proc`: every `medrex orderer start`, `medrex peer start` and `etcd` process, and the bench
/// client itself. 100% is one core fully busy. Processes on other machines are not seen.
package struct ProcessCPU: Codable, Sendable, Hashable {
    /// `peer peer0-hospital-a`, `orderer orderer0`, `etcd etcd0`, `bench client`.
    package var name: String
    package var pid: Int32
    package var percent: Double
}

/// CPU seconds of the node processes at one instant.
struct ProcessCPUSample: Sendable {
    let taken: ContinuousClock.Instant
    let seconds: [Int32: (name: String, cpu: Double)]

    /// The node processes running now and the bench client, with their CPU seconds so far.
    static func now() -> ProcessCPUSample {
        var seconds: [Int32: (String, Double)] = [:]
        let own = getpid()
        if let cpu = cpuSeconds(own) { seconds[own] = ("bench client", cpu) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), pid != own, let name = nodeName(pid), let cpu = cpuSeconds(pid) else { continue }
            seconds[pid] = (name, cpu)
        }
        return ProcessCPUSample(taken: .now, seconds: seconds)
    }

    /// CPU% of each process present in both samples, busiest first.
    func usage(since earlier: ProcessCPUSample) -> [ProcessCPU] {
        let wall = Double((taken - earlier.taken) / .milliseconds(1)) / 1000
        guard wall > 0 else { return [] }
        return seconds.compactMap { pid, now -> ProcessCPU? in
            guard let before = earlier.seconds[pid] else { return nil }
            return ProcessCPU(name: now.name, pid: pid, percent: ((now.cpu - before.cpu) / wall * 1000).rounded() / 10)
        }.sorted { ($0.percent, $1.name) > ($1.percent, $0.name) }
    }

    /// The name of a Medrex node or etcd process, from its command line; nil for others.
    static func nodeName(_ pid: Int32) -> String? {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !raw.isEmpty else { return nil }
        let arguments = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let program = URL(fileURLWithPath: arguments[0]).lastPathComponent
        func option(_ name: String) -> String? {
            guard let index = arguments.firstIndex(where: { $0 == name || $0.hasPrefix(name + "=") }) else { return nil }
            if arguments[index].hasPrefix(name + "=") { return String(arguments[index].dropFirst(name.count + 1)) }
            return index + 1 < arguments.count ? arguments[index + 1] : nil
        }
        if program == "etcd" { return "etcd \(option("--name") ?? "\(pid)")" }
        guard program == "medrex", arguments.count >= 3, ["peer", "orderer"].contains(arguments[1]), arguments[2] == "start" else { return nil }
        let config = option("--config").map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "\(pid)"
        return "\(arguments[1]) \(config)"
    }

    /// utime + stime of a process in seconds (fields 14 and 15 of /proc/PID/stat).
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name, which may hold spaces: state is field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
