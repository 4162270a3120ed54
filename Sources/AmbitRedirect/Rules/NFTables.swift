import CNFTables
import Glibc

/// libnftables, the library behind the `nft` command.
///
/// A script given to `run` is one netlink batch, so it is applied atomically: all of it or
/// none. libnftables talks netlink in the namespace of the calling thread; call these
/// inside `NamespaceExecutor.run` to act on a pod.
public enum NFTables {
    /// Runs `script` (nft syntax) in the current thread's network namespace and returns
    /// what nft printed. Throws with nft's own error text when the kernel or the parser
    /// rejects it.
    @discardableResult
    public static func run(_ script: String, context what: String) throws -> String {
        guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw RedirectError(.system, "cannot create a libnftables context")
        }
        defer { nft_ctx_free(ctx) }
        _ = nft_ctx_buffer_output(ctx)
        _ = nft_ctx_buffer_error(ctx)
        let rc = nft_run_cmd_from_buffer(ctx, script)
        let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
        guard rc == 0 else {
            let error = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? "unknown error"
            throw RedirectError(
                .rulesRejected,
                "nftables rejected \(what): \(error.trimmingTrailingNewlines); does the kernel have nf_tables and nft_redirect, and does the daemon have CAP_NET_ADMIN?")
        }
        return output
    }

    /// The `ambit` table as nft prints it, or nil when it is not there.
    public static func listAmbitTable() -> String? {
        try? run("list table inet \(InPodRules.tableName)", context: "the listing")
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
