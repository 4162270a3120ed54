import AmbitAPI
import AmbitCore
import Logging

/// A node's standing with its control plane: the generic data-plane connection
/// (`ControlPlaneConnection`, from AmbitAPI) of kind `.node`. The node daemon, its
/// certificate requests and its config push all go through it.
public typealias NodeControlPlane = ControlPlaneConnection

extension ControlPlaneConnection {
    /// The node's name, for a connection of kind `.node`.
    public var nodeName: String {
        if case .node(let name) = kind { return name }
        return "\(kind)"
    }

    /// The node's own identity, `spiffe://<td>/ns/ambit-system/sa/node-<name>`.
    public var nodeID: SpiffeID { identity }
}

/// How `ambit node --control` gets the node its identity: `DataPlaneBootstrap` for a
/// process of kind `.node` (reused from the state directory, renewed, or joined with the
/// one-time token), with the node's own flags and error type.
public enum NodeBootstrap {
    public struct Configuration: Sendable {
        public var nodeName: String
        public var trustDomain: String
        /// The control plane's mTLS port (push, CA).
        public var control: HostPort
        /// Where `Join` is served: the control port + 1 unless set.
        public var joinPort: Int
        public var stateDirectory: String
        /// The one-time token from `ambit control token create --node NAME`; needed only
        /// when the node has no usable identity yet.
        public var joinToken: String?
        /// The mesh root(s) the operator trusts the control plane under; needed to join.
        public var trustBundleFile: String?

        public init(nodeName: String, trustDomain: String, control: HostPort, stateDirectory: String) {
            self.nodeName = nodeName
            self.trustDomain = trustDomain
            self.control = control
            self.joinPort = control.port + 1
            self.stateDirectory = stateDirectory
        }

        var generic: DataPlaneBootstrap.Configuration {
            var c = DataPlaneBootstrap.Configuration(kind: .node(name: nodeName), trustDomain: trustDomain, control: control, stateDirectory: stateDirectory)
            c.joinPort = joinPort
            c.joinToken = joinToken
            c.trustBundleFile = trustBundleFile
            return c
        }
    }

    /// The node's identity: reused from the state directory, renewed, or obtained by joining.
    public static func start(
        _ configuration: Configuration, clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.node.bootstrap")
    ) async throws -> NodeControlPlane {
        do {
            return try await DataPlaneBootstrap.start(configuration.generic, clock: clock, logger: logger)
        } catch {
            throw NodeError(.identity, error.message)
        }
    }
}
