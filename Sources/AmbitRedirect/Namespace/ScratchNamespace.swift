import CAmbitNet
import Foundation
import Glibc

/// Runs a closure in a brand-new, empty network namespace that disappears when it returns.
///
/// `ambit check` uses it to load the real pod rules where they can touch nothing: if the
/// kernel or the daemon's privileges cannot take them, this says so before any pod is
/// enrolled. The namespace belongs to one short-lived thread (unshare affects only the
/// calling thread), so the process's own namespace never changes.
public enum ScratchNamespace {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let result = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            guard ambit_unshare_netns() == 0 else {
                let reason = String(cString: strerror(errno))
                result.value = .failure(RedirectError(.system, "cannot create a network namespace (unshare: \(reason)); this needs CAP_SYS_ADMIN"))
                return
            }
            result.value = Result { try body() }
        }
        thread.start()
        done.wait()
        return try result.value!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable {
        // Written by the thread before it signals, read after the wait: the semaphore orders them.
        var value: Result<T, any Error>?
    }
}
