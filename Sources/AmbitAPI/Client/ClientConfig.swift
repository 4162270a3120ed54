import AmbitCore

/// The CLI's credentials for a control plane, in one file like a kubeconfig:
///
/// ```yaml
/// server: 127.0.0.1:15012
/// trustDomain: cluster.local
/// ca: |                  # the mesh root(s): the server's certificate must chain to these
///   -----BEGIN CERTIFICATE-----
/// certificate: |         # the admin identity's chain, leaf first
///   -----BEGIN CERTIFICATE-----
/// key: |
///   -----BEGIN PRIVATE KEY-----
/// ```
///
/// `ambit control` writes one at first start (`<data>/admin.ambitconfig`, mode 0600); the
/// CLI finds it through `--ambitconfig`, `$AMBITCONFIG`, or `~/.ambit/config`.
public struct ClientConfig: Sendable, Equatable {
    public var server: HostPort
    public var trustDomain: String
    public var caPEM: String
    public var certificatePEM: String
    public var keyPEM: String

    public init(server: HostPort, trustDomain: String, caPEM: String, certificatePEM: String, keyPEM: String) {
        self.server = server
        self.trustDomain = trustDomain
        self.caPEM = caPEM
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }

    public init(parsing text: String, file: String) throws(ResourceError) {
        let documents = try ConfigParser.documents(text, file: file)
        guard documents.count == 1, let document = documents.first else {
            throw ResourceError(file: file, path: "", reason: "expected one document")
        }
        do throws(ResourceError) {
            var r = try FieldReader(document, path: "")
            let serverText = try r.requiredString("server")
            do { server = try HostPort(parsing: serverText) } catch {
                throw ResourceError(path: "server", reason: error.message)
            }
            trustDomain = try r.string("trustDomain") ?? "cluster.local"
            caPEM = try r.requiredString("ca")
            certificatePEM = try r.requiredString("certificate")
            keyPEM = try r.requiredString("key")
            try r.finish()
        } catch var error {
            error.file = file
            throw error
        }
    }

    /// The file's text.
    public var text: String {
        func block(_ pem: String) -> String {
            pem.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        }
        return """
            # Credentials for the ambit CLI (keep private: it holds the admin key).
            server: \(server)
            trustDomain: \(trustDomain)
            ca: |
            \(block(caPEM.trimmingTrailingNewlines))
            certificate: |
            \(block(certificatePEM.trimmingTrailingNewlines))
            key: |
            \(block(keyPEM.trimmingTrailingNewlines))

            """
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
