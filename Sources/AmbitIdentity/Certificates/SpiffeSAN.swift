import AmbitCore
import X509

/// Reading the SPIFFE identity out of a certificate.
///
/// A certificate proves a workload identity only if it carries exactly one URI SAN and that
/// URI is a valid SPIFFE ID; a second URI would make "who is this" ambiguous, so it is an
/// error, not a choice.
public enum SpiffeSAN {
    public static func identity(of certificate: Certificate) throws(IdentityError) -> SpiffeID {
        let sans: SubjectAlternativeNames?
        do { sans = try certificate.extensions.subjectAlternativeNames } catch {
            throw IdentityError(.verification, "the certificate's SubjectAlternativeName extension is malformed: \(error)")
        }
        let uris = Array(sans ?? SubjectAlternativeNames()).compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
        guard uris.count == 1, let uri = uris.first else {
            throw IdentityError(
                .verification,
                "the certificate carries \(uris.count) URI SANs; a workload certificate must carry exactly one SPIFFE ID")
        }
        do throws(CoreError) {
            return try SpiffeID(parsing: uri)
        } catch {
            throw IdentityError(.verification, "the certificate's URI SAN is not a workload identity: \(error.message)")
        }
    }
}
