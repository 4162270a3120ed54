import AmbitCore
import AmbitIdentity
import ArgumentParser

struct DevCA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-ca",
        abstract: "A local mesh CA for trying Ambit by hand (the control plane runs the real one).",
        subcommands: [Init.self, Issue.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a root CA in a directory (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem).")

        @Option(help: "The CA directory; created if missing. An existing CA there is kept.")
        var dir: String
        @Option(help: "The mesh trust domain.")
        var trustDomain = "cluster.local"

        func run() async throws {
            let ca = try await readable { try CertificateAuthority.loadOrCreate(directory: dir, trustDomain: trustDomain) }
            print("CA ready in \(dir) for trust domain \(ca.trustDomain); trust bundle: \(dir)/root-cert.pem")
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a workload certificate: writes PREFIX.crt (chain, leaf first) and PREFIX.key (0600).")

        @Option(help: "The CA directory made by 'ambit dev-ca init'.")
        var dir: String
        @Option(help: "The identity, spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.")
        var id: String
        @Option(help: "Output prefix.")
        var out: String
        @Option(help: "Lifetime in seconds (default 24 h).")
        var ttl: Double?

        func run() async throws {
            let identity = try spiffeID(id, option: "--id")
            let cert = try await readable {
                let ca = try CertificateAuthority.load(directory: dir, trustDomain: identity.trustDomain)
                let issued = try await LocalCAProvider(ca: ca, ttl: ttl).fetchCertificate(for: identity)
                try issued.write(certificateFile: out + ".crt", keyFile: out + ".key")
                return issued
            }
            print("issued \(cert.identity) (serial \(cert.serial)), valid until \(cert.leaf.notValidAfter): \(out).crt, \(out).key")
        }
    }
}
