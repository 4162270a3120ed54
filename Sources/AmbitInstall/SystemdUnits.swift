/// The systemd units `ambit install` writes: one for the control plane, one for the node
/// daemon. Each gets exactly the privileges its job needs and systemd's sandboxing for
/// everything else, so a compromised process can do as little as possible.
///
/// - The control plane needs no capabilities at all: it listens on unprivileged ports and
///   writes only its data directory. It runs as the unprivileged `ambit` user.
/// - The node daemon needs three, and runs as root with only those three:
///   `CAP_NET_ADMIN` (nftables rules inside pods, `SO_MARK` on its sockets),
///   `CAP_SYS_ADMIN` (`setns` into pod network namespaces) and `CAP_NET_RAW` (the
///   transparent sockets and raw netlink the redirection uses). Its filesystem is read-only
///   except its state directory.
public struct SystemdUnits: Sendable, Equatable {
    public struct Control: Sendable, Equatable {
        public var binary = "/usr/local/bin/ambit"
        public var dataDirectory = "/var/lib/ambit/control"
        public var user = "ambit"
        public var trustDomain = "cluster.local"
        public var listen = "0.0.0.0:15012"
        public var joinListen = "0.0.0.0:15013"
        /// The address written into the CLI credentials: how users and nodes reach it.
        public var advertise = "127.0.0.1:15012"
        public init() {}
    }

    public struct Node: Sendable, Equatable {
        public var binary = "/usr/local/bin/ambit"
        public var stateDirectory = "/var/lib/ambit/node"
        /// The control plane, HOST:PORT.
        public var control = "127.0.0.1:15012"
        public var trustBundle = "/etc/ambit/root-cert.pem"
        /// Read at the first start only (the node keeps its identity in its state directory).
        public var joinTokenFile = "/etc/ambit/join-token"
        public var trustDomain = "cluster.local"
        /// nil: the host name.
        public var nodeName: String?
        public init() {}
    }

    public var control: Control
    public var node: Node

    public init(control: Control = Control(), node: Node = Node()) {
        self.control = control
        self.node = node
    }

    public static let controlUnitName = "ambit-control.service"
    public static let nodeUnitName = "ambit-node.service"

    /// Sandboxing both units share: nothing here limits what either process is meant to do.
    static let commonHardening = """
        NoNewPrivileges=yes
        ProtectSystem=strict
        ProtectHome=yes
        PrivateTmp=yes
        PrivateDevices=yes
        ProtectKernelTunables=yes
        ProtectKernelModules=yes
        ProtectKernelLogs=yes
        ProtectControlGroups=yes
        ProtectClock=yes
        ProtectHostname=yes
        RestrictRealtime=yes
        RestrictSUIDSGID=yes
        LockPersonality=yes
        MemoryDenyWriteExecute=yes
        SystemCallArchitectures=native
        SystemCallFilter=@system-service
        SystemCallErrorNumber=EPERM
        UMask=0077
        """

    public var controlUnit: String {
        let c = control
        return """
            # Written by `ambit install systemd`. The Ambit control plane: registry, config store,
            # CA and config push. See docs/operations.md.
            [Unit]
            Description=Ambit control plane (registry, CA, config push)
            Documentation=https://github.com/ambit-mesh/ambit/blob/main/docs/control-plane.md
            After=network-online.target
            Wants=network-online.target

            [Service]
            Type=simple
            ExecStart=\(c.binary) control serve --data-dir \(c.dataDirectory) --trust-domain \(c.trustDomain) --listen \(c.listen) --join-listen \(c.joinListen) --advertise \(c.advertise)
            User=\(c.user)
            Group=\(c.user)
            \(Self.writableDirectory(c.dataDirectory))
            Restart=on-failure
            RestartSec=2s
            LimitNOFILE=1048576
            # No capabilities: unprivileged ports, and only its own data directory to write.
            CapabilityBoundingSet=
            AmbientCapabilities=
            RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
            RestrictNamespaces=yes
            \(Self.commonHardening)

            [Install]
            WantedBy=multi-user.target

            """
    }

    public var nodeUnit: String {
        let n = node
        var exec = "\(n.binary) node --control \(n.control) --trust-bundle \(n.trustBundle) --join-file \(n.joinTokenFile)"
        exec += " --trust-domain \(n.trustDomain) --state-dir \(n.stateDirectory)"
        if let name = n.nodeName { exec += " --node \(name)" }
        return """
            # Written by `ambit install systemd`. The Ambit node daemon: enrols this node's pods and
            # carries their traffic through the mesh. See docs/node.md.
            [Unit]
            Description=Ambit node daemon (pod enrolment, mTLS tunnel, L4 policy)
            Documentation=https://github.com/ambit-mesh/ambit/blob/main/docs/node.md
            After=network-online.target
            Wants=network-online.target

            [Service]
            Type=simple
            ExecStart=\(exec)
            User=root
            \(Self.writableDirectory(n.stateDirectory))
            Restart=on-failure
            RestartSec=2s
            LimitNOFILE=1048576
            # SIGTERM drains connections; give it time before systemd escalates.
            TimeoutStopSec=30s
            # Exactly what the node needs: nftables and SO_MARK (NET_ADMIN), setns into pod
            # network namespaces (SYS_ADMIN), raw netlink and transparent sockets (NET_RAW).
            CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW
            AmbientCapabilities=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW
            RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
            # It enters network namespaces (setns) and nothing else.
            RestrictNamespaces=net
            \(Self.commonHardening)

            [Install]
            WantedBy=multi-user.target

            """
    }

    /// The one directory a unit may write. Under /var/lib it is a `StateDirectory=`, which
    /// systemd creates with the right owner and mode; anywhere else the installer creates it
    /// and the unit names it in `ReadWritePaths=` (the rest of the filesystem is read-only).
    static func writableDirectory(_ path: String) -> String {
        let prefix = "/var/lib/"
        if path.hasPrefix(prefix) {
            return "StateDirectory=\(path.dropFirst(prefix.count))\nStateDirectoryMode=0700"
        }
        return "ReadWritePaths=\(path)"
    }

    /// Directories the installer must create itself (those outside /var/lib).
    public var directoriesToCreate: [String] {
        [control.dataDirectory, node.stateDirectory].filter { !$0.hasPrefix("/var/lib/") }
    }
}
