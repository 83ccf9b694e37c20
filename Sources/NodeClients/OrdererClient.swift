import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Identity
import LedgerCore
import LedgerWire
import RPCTransport
import SwiftProtobuf

/// A client of an orderer's AtomicBroadcast service over mutual TLS.
package struct OrdererClient: Sendable {
    package let host: String
    package let port: Int
    package let tls: MutualTLS

    package init(host: String, port: Int, tls: MutualTLS) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    private func withService<Result: Sendable>(_ body: (Orderer_AtomicBroadcast.Client<HTTP2ClientTransport.Posix>) async throws -> Result) async throws -> Result {
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: tls.clientSecurity)) { client in
            try await body(Orderer_AtomicBroadcast.Client(wrapping: client))
        }
    }

    /// Sends every envelope on one Broadcast stream; returns the answers in order.
    package func broadcast(_ envelopes: [Common_Envelope]) async throws -> [Orderer_BroadcastResponse] {
        try await withService { service in
            try await service.broadcast { writer in
                for envelope in envelopes { try await writer.write(envelope) }
            } onResponse: { response in
                var answers: [Orderer_BroadcastResponse] = []
                for try await answer in response.messages { answers.append(answer) }
                return answers
            }
        }
    }

    /// Blocks `start...stop` of `channel`, waiting for blocks not yet cut; the final status.
    package func deliver(channel: String, start: UInt64, stop: UInt64, signer: SigningIdentity) async throws -> (blocks: [Common_Block], status: Common_Status) {
        let request = try Self.seekEnvelope(channel: channel, start: start, stop: stop, signer: signer)
        return try await withService { service in
            try await service.deliver { writer in
                try await writer.write(request)
            } onResponse: { response in
                var blocks: [Common_Block] = []
                for try await answer in response.messages {
                    switch answer.type {
                    case .block(let block): blocks.append(block)
                    case .status(let status): return (blocks, status)
                    case .none: continue
                    }
                }
                return (blocks, .unknown)
            }
        }
    }

    /// Streams blocks of `channel` from `start` on, waiting for new ones, handing each to `onBlock`
    /// in order. Returns when the orderer ends the stream (with its status); throws when the
    /// connection fails or `onBlock` throws.
    package func follow(
        channel: String, start: UInt64, signer: SigningIdentity, onBlock: @escaping @Sendable (Common_Block) async throws -> Void
    ) async throws -> Common_Status {
        let request = try Self.seekEnvelope(channel: channel, start: start, stop: UInt64.max, signer: signer)
        return try await withService { service in
            try await service.deliver { writer in
                try await writer.write(request)
            } onResponse: { response in
                for try await answer in response.messages {
                    switch answer.type {
                    case .block(let block): try await onBlock(block)
                    case .status(let status): return status
                    case .none: continue
                    }
                }
                return .unknown
            }
        }
    }

    /// A signed DELIVER_SEEK_INFO envelope for blocks `start...stop`, waiting until ready.
    package static func seekEnvelope(channel: String, start: UInt64, stop: UInt64, signer: SigningIdentity) throws -> Common_Envelope {
        var seek = Orderer_SeekInfo()
        seek.start.specified.number = start
        seek.stop.specified.number = stop
        return try seekEnvelope(channel: channel, seek: seek, signer: signer)
    }

    /// The channel's current config block (Fabric's `peer channel fetch config`): the newest
    /// block names the last config block, which is then fetched.
    package func configBlock(channel: String, signer: SigningIdentity) async throws -> Common_Block {
        var seek = Orderer_SeekInfo()
        seek.start.newest = Orderer_SeekNewest()
        seek.stop.newest = Orderer_SeekNewest()
        let request = try Self.seekEnvelope(channel: channel, seek: seek, signer: signer)
        let newest: Common_Block? = try await withService { service in
            try await service.deliver { writer in
                try await writer.write(request)
            } onResponse: { response in
                for try await answer in response.messages {
                    switch answer.type {
                    case .block(let block): return block
                    case .status(let status): throw OrdererClientError("the orderer answered \(status) to a request for channel '\(channel)'")
                    case .none: continue
                    }
                }
                return nil
            }
        }
        guard let newest else { throw OrdererClientError("the orderer sent no block of channel '\(channel)'") }
        let number = newest.lastConfigIndex ?? 0
        if number == newest.header.number { return newest }
        let (blocks, status) = try await deliver(channel: channel, start: number, stop: number, signer: signer)
        guard let block = blocks.first, block.header.number == number else {
            throw OrdererClientError("the orderer did not send config block \(number) of channel '\(channel)' (\(status))")
        }
        return block
    }

    private static func seekEnvelope(channel: String, seek: Orderer_SeekInfo, signer: SigningIdentity) throws -> Common_Envelope {
        var seek = seek
        seek.behavior = .blockUntilReady
        return try .signed(.deliverSeekInfo, channelID: channel, data: try seek.serializedData(), signer: signer, time: Date())
    }
}

/// A Deliver answer the client could not use.
package struct OrdererClientError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
