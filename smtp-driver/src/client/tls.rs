//! Client-side TLS: how the server's certificate is checked, and the rustls configuration.
//!
//! rustls with the `ring` provider only. The default trusts Mozilla's root store
//! (`webpki-roots`). Two weaker modes exist for tests and private set-ups:
//! [`ServerCertificate::Pinned`] accepts exactly one given certificate, and
//! [`ServerCertificate::DangerousAcceptAnyCertificate`] accepts anything (the name says it).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// How the client decides whether to trust the server's certificate.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum ServerCertificate {
    /// Verify the chain against Mozilla's root store (`webpki-roots`) and the host name.
    #[default]
    WebPkiRoots,
    /// Verify against these trust anchors (for example a private CA) and the host name.
    Roots(Arc<rustls::RootCertStore>),
    /// Accept exactly this end-entity certificate (byte for byte) and nothing else, whatever
    /// the host name: certificate pinning, for self-signed test servers. The handshake
    /// signature is still verified against the certificate's key.
    Pinned(CertificateDer<'static>),
    /// Accept **any** certificate without checking it. The connection is encrypted but not
    /// authenticated: anyone on the path can read and change the mail. For tests only.
    DangerousAcceptAnyCertificate,
    /// Use this rustls configuration as it is (ALPN, client certificates, own verifier...).
    Custom(Arc<rustls::ClientConfig>),
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerCertificate::WebPkiRoots => f.write_str("WebPkiRoots"),
            ServerCertificate::Roots(r) => write!(f, "Roots({} anchors)", r.len()),
            ServerCertificate::Pinned(c) => write!(f, "Pinned({} bytes)", c.len()),
            ServerCertificate::DangerousAcceptAnyCertificate => {
                f.write_str("DangerousAcceptAnyCertificate")
            }
            ServerCertificate::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl ServerCertificate {
    /// Builds the rustls configuration for this trust choice.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let config = match self {
            ServerCertificate::WebPkiRoots => {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            ServerCertificate::Roots(roots) => builder
                .with_root_certificates(Arc::clone(roots))
                .with_no_client_auth(),
            ServerCertificate::Pinned(cert) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CustomVerifier {
                    accept: Accept::Exactly(cert.clone()),
                    algorithms: provider().signature_verification_algorithms,
                }))
                .with_no_client_auth(),
            ServerCertificate::DangerousAcceptAnyCertificate => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CustomVerifier {
                    accept: Accept::Anything,
                    algorithms: provider().signature_verification_algorithms,
                }))
                .with_no_client_auth(),
            ServerCertificate::Custom(config) => return Ok(Arc::clone(config)),
        };
        Ok(Arc::new(config))
    }
}

/// Which end-entity certificates a [`CustomVerifier`] accepts.
#[derive(Debug)]
enum Accept {
    /// One exact certificate ([`ServerCertificate::Pinned`]).
    Exactly(CertificateDer<'static>),
    /// Anything ([`ServerCertificate::DangerousAcceptAnyCertificate`] only).
    Anything,
}

/// A verifier that replaces the chain check; the handshake signature is still checked with the
/// presented certificate's key in both cases.
#[derive(Debug)]
struct CustomVerifier {
    accept: Accept,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CustomVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.accept {
            Accept::Anything => Ok(ServerCertVerified::assertion()),
            Accept::Exactly(cert) if end_entity.as_ref() == cert.as_ref() => {
                Ok(ServerCertVerified::assertion())
            }
            Accept::Exactly(_) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS server name for `host`: a DNS name, or an IP address (brackets allowed).
pub(crate) fn server_name(
    host: &str,
) -> Result<ServerName<'static>, rustls::pki_types::InvalidDnsNameError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_owned())
}
