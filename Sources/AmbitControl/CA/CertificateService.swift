import AmbitCore
import AmbitIdentity
import Logging
import X509

/// The control plane's CA as the mesh reaches it: who may have which certificate.
///
/// - **Join**: a one-time token plus a CSR gets a node (or waypoint) its own identity.
/// - **Workload certificates**: a node asks with its node identity (proven by mTLS); it gets
///   a certificate only for a service account that has a workload scheduled on it. A
///   waypoint may renew only its own identity. Every refusal is logged with who asked and
///   for what: a node asking for identities that are not its own is worth noticing.
public final class CertificateService: Sendable {
    public let ca: CertificateAuthority
    public let identities: ControlIdentities
    public let tokens: JoinTokens
    /// What was issued since start, for `ambit status`.
    public let issued = IssuedCertificates()
    private let workloadIdentities: @Sendable (_ node: String) -> Set<SpiffeID>
    private let ttl: Double?
    private let logger: Logger

    /// - Parameter workloadIdentities: the identities of the workloads scheduled on a node,
    ///   from the current store contents.
    public init(
        ca: CertificateAuthority, tokens: JoinTokens, ttl: Double? = nil,
        workloadIdentities: @escaping @Sendable (_ node: String) -> Set<SpiffeID>,
        logger: Logger = Logger(label: "ambit.control.ca")
    ) {
        self.ca = ca
        self.identities = ControlIdentities(trustDomain: ca.trustDomain)
        self.tokens = tokens
        self.ttl = ttl
        self.workloadIdentities = workloadIdentities
        self.logger = logger
    }

    /// The PEM of the mesh's trust bundle (roots).
    public var trustBundlePEM: String { (try? ca.trustBundle.pemString()) ?? "" }

    /// Redeems `token` for the identity it grants; the CSR must ask for exactly that one.
    public func join(token: String, csrPEM: String) async throws -> [Certificate] {
        let grant = try tokens.redeem(token)
        let granted: SpiffeID
        switch grant {
        case .node(let name): granted = try identities.node(name)
        case .waypoint(let ns, let gateway): granted = try identities.waypoint(namespace: ns, gateway: gateway)
        }
        let csr = try Self.parse(csrPEM)
        let chain = try await ca.sign(csr, ttl: ttl) { requested in
            guard requested == granted else {
                throw ControlError(.unauthorized, "the join token grants \(granted), but the CSR asks for \(requested)")
            }
        }
        logger.info("joined", metadata: ["grant": "\(grant)", "identity": "\(granted)"])
        issued.record(chain, requester: granted.uri)
        return chain
    }

    /// Signs a CSR for `requester` (the mTLS-verified caller).
    public func issue(csrPEM: String, requester: SpiffeID) async throws -> [Certificate] {
        let csr = try Self.parse(csrPEM)
        let identities = self.identities
        let onNode = identities.nodeName(of: requester).map { workloadIdentities($0) }
        let logger = self.logger
        let chain = try await ca.sign(csr, ttl: ttl) { requested in
            if requested == requester { return }  // renewing one's own identity
            guard let node = identities.nodeName(of: requester) else {
                logger.warning("refused a certificate", metadata: ["requester": "\(requester)", "identity": "\(requested)"])
                throw ControlError(.unauthorized, "\(requester) may only renew its own certificate, not ask for \(requested)")
            }
            guard onNode?.contains(requested) == true else {
                logger.warning("refused a workload certificate", metadata: ["node": "\(node)", "identity": "\(requested)"])
                throw ControlError(
                    .unauthorized,
                    "node \(node) asked for \(requested), but no workload with that identity is scheduled on it")
            }
        }
        issued.record(chain, requester: requester.uri)
        return chain
    }

    static func parse(_ pem: String) throws -> CertificateSigningRequest {
        do { return try CertificateSigningRequest(pemEncoded: pem) } catch {
            throw ControlError(.invalid, "the certificate request is not a PEM-encoded CSR: \(error)")
        }
    }
}
