//! A certificate as Node's `getPeerCertificate()` describes it, read with
//! x509-parser; digests come from ring (the provider rustls already uses).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

/// A certificate as Node's `getPeerCertificate()` describes it.
///
/// ```no_run
/// # fn f(req: nodelike::http::IncomingMessage) {
/// if let Some(cert) = req.connection().peer_certificate() {
///     println!("{} issued by {}", cert.subject.cn.unwrap_or_default(), cert.issuer.cn.unwrap_or_default());
///     println!("names: {:?}, sha1 {}", cert.subjectaltname, cert.fingerprint);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// Whom the certificate is for.
    pub subject: DistinguishedName,
    /// Who issued it.
    pub issuer: DistinguishedName,
    /// The subject alternative names as Node lists them
    /// (`"DNS:localhost, IP Address:127.0.0.1"`); `None` when the
    /// certificate has no such extension (then a host name is checked
    /// against the subject's CN, as Node's `checkServerIdentity` does).
    pub subjectaltname: Option<String>,
    /// `notBefore`, as Node prints it (`Nov 25 03:00:00 2026 GMT`).
    pub valid_from: String,
    /// `notAfter`, as Node prints it.
    pub valid_to: String,
    /// The key's size in bits (Node's `bits`).
    pub bits: usize,
    /// An RSA key's modulus, upper-case hex without leading zeros
    /// (Node's `modulus`); `None` for other keys.
    pub modulus: Option<String>,
    /// An RSA key's public exponent as Node prints it (`"0x10001"`).
    pub exponent: Option<String>,
    /// The public key's bytes (Node's `pubkey`): for RSA the DER
    /// `SubjectPublicKeyInfo`, for EC the encoded point.
    pub pubkey: Vec<u8>,
    /// SHA-1 of the DER, colon-separated upper-case hex (Node's
    /// `fingerprint`).
    pub fingerprint: String,
    /// SHA-256 of the DER (Node's `fingerprint256`).
    pub fingerprint256: String,
    /// SHA-512 of the DER (Node's `fingerprint512`).
    pub fingerprint512: String,
    /// The extended key usages as OIDs (Node's `ext_key_usage`):
    /// `1.3.6.1.5.5.7.3.1` is server authentication, `...3.2` client.
    pub ext_key_usage: Vec<String>,
    /// The serial number in upper-case hex (Node's `serialNumber`).
    pub serial_number: String,
    /// The certificate itself, DER-encoded (Node's `raw`).
    pub raw: Vec<u8>,
    /// The certificate that issued this one, where the peer sent it (Node's
    /// `issuerCertificate` from `getPeerCertificate(true)`); `None` for a
    /// self-issued certificate or an issuer the peer did not send.
    pub issuer_certificate: Option<Box<PeerCertificate>>,
}

/// The parts of a distinguished name Node's certificate objects show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    /// Common name (`CN`).
    pub cn: Option<String>,
    /// Organisation (`O`).
    pub o: Option<String>,
    /// Organisational unit (`OU`).
    pub ou: Option<String>,
    /// Country (`C`).
    pub c: Option<String>,
    /// State or province (`ST`).
    pub st: Option<String>,
    /// Locality (`L`).
    pub l: Option<String>,
}

impl PeerCertificate {
    /// Parses a DER certificate (`None` if it is not one).
    ///
    /// ```
    /// assert!(nodelike::tls::PeerCertificate::from_der(b"not a certificate").is_none());
    /// ```
    pub fn from_der(der: &[u8]) -> Option<PeerCertificate> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(describe(&cert, der))
    }

    /// Parses a chain sent by a peer (end entity first) and links each
    /// certificate to its issuer where the chain holds it.
    pub(crate) fn from_chain(chain: &[&[u8]]) -> Option<PeerCertificate> {
        let (end, rest) = chain.split_first()?;
        let mut cert = PeerCertificate::from_der(end)?;
        // Bounded by the chain's length: each step moves one issuer up.
        let mut tail = &mut cert;
        let mut remaining: Vec<PeerCertificate> = rest
            .iter()
            .filter_map(|der| PeerCertificate::from_der(der))
            .collect();
        while tail.issuer != tail.subject {
            let Some(at) = remaining.iter().position(|c| c.subject == tail.issuer) else {
                break;
            };
            tail.issuer_certificate = Some(Box::new(remaining.swap_remove(at)));
            tail = tail.issuer_certificate.as_deref_mut()?;
        }
        Some(cert)
    }
}

/// The two fields Node's `checkServerIdentity` reads, and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    /// As [`PeerCertificate::subjectaltname`].
    pub(crate) subjectaltname: Option<String>,
    /// The subject's CN.
    pub(crate) cn: Option<String>,
}

impl CertNames {
    /// Reads them from a DER certificate (`None` if it is not one).
    pub(crate) fn from_der(der: &[u8]) -> Option<CertNames> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(CertNames {
            subjectaltname: subject_alt_names(&cert),
            cn: first_cn(cert.subject()),
        })
    }
}

fn first_cn(name: &x509_parser::x509::X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}

fn describe(cert: &X509Certificate<'_>, der: &[u8]) -> PeerCertificate {
    let name = |n: &x509_parser::x509::X509Name<'_>| {
        let first = |it: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| { it.next().and_then(|a| a.as_str().ok()).map(str::to_owned) };
        DistinguishedName {
            cn: first_cn(n),
            o: first(&mut n.iter_organization()),
            ou: first(&mut n.iter_organizational_unit()),
            c: first(&mut n.iter_country()),
            st: first(&mut n.iter_state_or_province()),
            l: first(&mut n.iter_locality()),
        }
    };
    let spki = cert.public_key();
    // Node gives an RSA key's whole SubjectPublicKeyInfo as `pubkey`, and
    // an EC key's encoded point.
    let (modulus, exponent, bits, pubkey) = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => (
            Some(hex_trimmed(rsa.modulus)),
            rsa.try_exponent().ok().map(|e| format!("0x{e:x}")),
            8 * rsa.modulus.iter().skip_while(|b| **b == 0).count(),
            spki.raw.to_vec(),
        ),
        Ok(key) => (
            None,
            None,
            key.key_size(),
            spki.subject_public_key.data.to_vec(),
        ),
        Err(_) => (None, None, 0, spki.subject_public_key.data.to_vec()),
    };
    PeerCertificate {
        subject: name(cert.subject()),
        issuer: name(cert.issuer()),
        subjectaltname: subject_alt_names(cert),
        valid_from: node_time(cert.validity().not_before.timestamp()),
        valid_to: node_time(cert.validity().not_after.timestamp()),
        bits,
        modulus,
        exponent,
        pubkey,
        fingerprint: colon_hex(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            der,
        )),
        fingerprint256: colon_hex(ring::digest::digest(&ring::digest::SHA256, der)),
        fingerprint512: colon_hex(ring::digest::digest(&ring::digest::SHA512, der)),
        ext_key_usage: ext_key_usage(cert),
        serial_number: cert
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        raw: der.to_vec(),
        issuer_certificate: None,
    }
}

/// The subject alternative names in OpenSSL's notation, which Node shows
/// and its `checkServerIdentity` reads back.
fn subject_alt_names(cert: &X509Certificate<'_>) -> Option<String> {
    let san = cert.subject_alternative_name().ok()??;
    let names: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(format!("DNS:{d}")),
            GeneralName::IPAddress(ip) => ip_text(ip).map(|ip| format!("IP Address:{ip}")),
            GeneralName::URI(u) => Some(format!("URI:{u}")),
            GeneralName::RFC822Name(e) => Some(format!("email:{e}")),
            _ => None,
        })
        .collect();
    Some(names.join(", "))
}

/// An IP address SAN as OpenSSL prints it: dotted IPv4, IPv6 as eight
/// upper-case groups without `::` compression.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(format!(
            "{}.{}.{}.{}",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )),
        16 => Some(
            bytes
                .chunks(2)
                .map(|g| format!("{:X}", u16::from_be_bytes([g[0], g[1]])))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        _ => None,
    }
}

fn ext_key_usage(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(eku)) = cert.extended_key_usage() else {
        return Vec::new();
    };
    let eku = eku.value;
    let known = [
        (eku.any, "2.5.29.37.0"),
        (eku.server_auth, "1.3.6.1.5.5.7.3.1"),
        (eku.client_auth, "1.3.6.1.5.5.7.3.2"),
        (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
        (eku.email_protection, "1.3.6.1.5.5.7.3.4"),
        (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
        (eku.ocsp_signing, "1.3.6.1.5.5.7.3.9"),
    ];
    known
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, oid)| (*oid).to_owned())
        .chain(eku.other.iter().map(|oid| oid.to_id_string()))
        .collect()
}

fn colon_hex(digest: ring::digest::Digest) -> String {
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Big-endian bytes as upper-case hex, leading zeros dropped (OpenSSL's
/// `BN_bn2hex`, which Node's `modulus` is).
fn hex_trimmed(bytes: &[u8]) -> String {
    let hex: String = bytes
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02X}"))
        .collect();
    match hex.strip_prefix('0') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => hex,
    }
}

/// Whether a DER certificate names itself as its issuer.
pub(crate) fn is_self_issued(der: &[u8]) -> bool {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject() == cert.issuer(),
        Err(_) => false,
    }
}

/// Whether `now` (Unix seconds) is inside the certificate's validity:
/// `Err(true)` past `notAfter`, `Err(false)` before `notBefore`.
pub(crate) fn check_validity(der: &[u8], now: i64) -> Result<(), bool> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let v = cert.validity();
            if now > v.not_after.timestamp() {
                Err(true)
            } else if now < v.not_before.timestamp() {
                Err(false)
            } else {
                Ok(())
            }
        }
        Err(_) => Err(false),
    }
}

/// A Unix time as OpenSSL prints it in Node's certificate objects:
/// `Mar  1 00:00:00 2027 GMT`.
fn node_time(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_openssl_prints_them() {
        assert_eq!(node_time(0), "Jan  1 00:00:00 1970 GMT");
        assert_eq!(node_time(1_795_000_000), "Nov 18 11:06:40 2026 GMT");
        assert_eq!(node_time(951_782_400), "Feb 29 00:00:00 2000 GMT");
    }

    #[test]
    fn ip_sans_print_as_openssl_prints_them() {
        assert_eq!(ip_text(&[127, 0, 0, 1]).unwrap(), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6).unwrap(), "0:0:0:0:0:0:0:1");
        v6[0] = 0xfe;
        v6[1] = 0x80;
        assert_eq!(ip_text(&v6).unwrap(), "FE80:0:0:0:0:0:0:1");
        assert_eq!(ip_text(&[1, 2, 3]), None);
    }

    #[test]
    fn a_modulus_prints_without_leading_zeros() {
        assert_eq!(hex_trimmed(&[0x00, 0xC3, 0x01]), "C301");
        assert_eq!(hex_trimmed(&[0x01, 0x00]), "100");
    }
}
