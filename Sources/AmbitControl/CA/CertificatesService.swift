import AmbitAPI
import AmbitCore
import AmbitIdentity
import GRPCCore
import Logging
import X509

/// `ambit.v1.Certificates` over gRPC: the wire side of `CertificateService`.
///
/// Serve it on both control-plane ports:
///
/// - **15013, server-authenticated TLS** (`ControlPlaneTLS.joinServer`): `Join`. A joining
///   node has no certificate yet; its one-time token is the credential. `CreateCertificate`
///   there is refused as unauthenticated (no client certificate).
/// - **15012, mutual TLS** (`ControlPlaneTLS.server`): `CreateCertificate`, where the
///   requester is the SPIFFE ID of the verified client certificate, never anything the
///   request says. `Join` works there too (harmless: the token still decides).
///
///     let certificates = CertificatesService(certificates: ca)
///     GRPCServer(transport: .http2NIOPosix(address: ..15012.., transportSecurity: mTLS),
///                services: [ConfigDiscoveryService(provider: p), certificates])
///     GRPCServer(transport: .http2NIOPosix(address: ..15013.., transportSecurity: joinTLS),
///                services: [certificates])
///
/// Errors reach the node as gRPC statuses carrying the CA's own sentence (what was refused
/// and what to do), since that is what an operator reads in the node's log.
public struct CertificatesService: Ambit_V1_Certificates.SimpleServiceProtocol {
    public let certificates: CertificateService
    private let logger: Logger

    public init(certificates: CertificateService, logger: Logger = Logger(label: "ambit.control.ca")) {
        self.certificates = certificates
        self.logger = logger
    }

    public func join(request: Ambit_V1_JoinRequest, context: ServerContext) async throws -> Ambit_V1_JoinResponse {
        let chain: [Certificate]
        do {
            chain = try await certificates.join(token: request.token, csrPEM: request.csrPem)
        } catch {
            logger.warning("join refused", metadata: ["peer": "\(context.remotePeer)", "error": "\(error)"])
            throw Self.status(for: error)
        }
        var response = Ambit_V1_JoinResponse()
        response.certChainPem = try Self.pem(chain)
        response.trustBundlePem = certificates.trustBundlePEM
        return response
    }

    public func createCertificate(request: Ambit_V1_CertificateRequest, context: ServerContext) async throws -> Ambit_V1_CertificateResponse {
        // The transport verified the client certificate against the mesh roots (mTLS port);
        // without one there is nobody to authorize.
        guard let uri = ConfigDiscoveryService.peerIdentity(context), let requester = try? SpiffeID(parsing: uri) else {
            throw RPCError(
                code: .unauthenticated,
                message: "CreateCertificate needs mutual TLS with a mesh identity (the control port, 15012); join first to get one")
        }
        let chain: [Certificate]
        do {
            chain = try await certificates.issue(csrPEM: request.csrPem, requester: requester)
        } catch {
            throw Self.status(for: error)
        }
        // `identity` is informational, but a client that names one must get that one: a
        // mismatch means it built the wrong CSR, and handing back another identity would
        // only fail later and further away.
        if !request.identity.isEmpty, let issued = try? SpiffeSAN.identity(of: chain[0]), issued.uri != request.identity {
            throw RPCError(code: .invalidArgument, message: "the request names \(request.identity), but its CSR asks for \(issued)")
        }
        var response = Ambit_V1_CertificateResponse()
        response.certChainPem = try Self.pem(chain)
        response.trustBundlePem = certificates.trustBundlePEM
        return response
    }

    static func pem(_ chain: [Certificate]) throws -> [String] {
        try chain.map { try $0.serializeAsPEM().pemString + "\n" }
    }

    /// The CA's errors as statuses: the code says what kind of refusal it was, the message is
    /// the CA's sentence unchanged. Anything unexpected is an internal error.
    static func status(for error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as ControlError:
            switch error.code {
            case .unauthorized: return RPCError(code: .permissionDenied, message: error.message)
            case .invalid: return RPCError(code: .invalidArgument, message: error.message)
            case .notFound: return RPCError(code: .notFound, message: error.message)
            case .conflict: return RPCError(code: .failedPrecondition, message: error.message)
            case .storage, .unavailable: return RPCError(code: .unavailable, message: error.message)
            }
        case let error as IdentityError:
            switch error.code {
            case .unauthorized: return RPCError(code: .permissionDenied, message: error.message)
            case .invalidCSR: return RPCError(code: .invalidArgument, message: error.message)
            default: return RPCError(code: .internalError, message: error.message)
            }
        case let error as CoreError:
            // A grant whose name makes no SPIFFE ID (e.g. a node name with a slash).
            return RPCError(code: .invalidArgument, message: error.message)
        default:
            return RPCError(code: .internalError, message: "the CA failed: \(error)")
        }
    }
}
