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
    /// The generic data-plane configuration; a node's has kind `.node(name:)`.
    public typealias Configuration = DataPlaneBootstrap.Configuration

    /// The node's identity: reused from the state directory, renewed, or obtained by joining.
    public static func start(
        _ configuration: Configuration, clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.node.bootstrap")
    ) async throws -> NodeControlPlane {
        do {
            return try await DataPlaneBootstrap.start(configuration, clock: clock, logger: logger)
        } catch {
            throw NodeError(.identity, error.message)
        }
    }
}

extension DataPlaneBootstrap.Configuration {
    /// A node's configuration (`ambit node --control`).
    public init(nodeName: String, trustDomain: String, control: HostPort, stateDirectory: String) {
        self.init(kind: .node(name: nodeName), trustDomain: trustDomain, control: control, stateDirectory: stateDirectory)
    }
}
