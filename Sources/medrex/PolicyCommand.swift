import ArgumentParser
import Identity

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Endorsement policies.",
        subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse an endorsement policy and print its canonical form, or where it is wrong."
        )

        @Argument(help: "A policy such as \"AND('HospitalAMSP.peer', OR('HospitalBMSP.peer', 'HospitalBMSP.admin'))\".")
        var policy: String

        func run() throws {
            print(try EndorsementPolicy.parse(policy))
        }
    }
}
