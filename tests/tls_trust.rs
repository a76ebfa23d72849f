//! Trust over TLS, reported exactly as Node reports it: `authorized()` and
//! `authorization_error()` on the client's socket whether or not the
//! request rejects, the codes OpenSSL gives each broken chain, the server
//! name taken from `servername`, `Host` or the host, Node's name rules
//! (the CN only without DNS SANs), a self-signed CA certificate given as
//! `ca`, `request_cert` without `ca`, configuration mistakes, and the
//! certificate's fields compared with what Node's own client sees.
#![cfg(feature = "tls")]

mod common;

use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

use common::pki::pki;
use common::{have, TestServer};
use nodelike::http::RequestOptions;
use nodelike::https::{self, ClientTlsOptions, ServerOptions};
use nodelike::ErrorKind;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// A certificate and key in PEM.
#[derive(Clone)]
struct Pair {
    cert: String,
    key: String,
}

/// A CA that can issue certificates.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// An intermediate CA signed by `parent`.
fn intermediate(parent: &Ca, name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, &parent.cert, &parent.key).unwrap();
    Ca { cert, key }
}

/// A server certificate for `names` (no SAN at all when empty), with the
/// subject CN `cn`, signed by `issuer` (self-signed when `None`).
fn leaf(
    names: &[&str],
    cn: &str,
    issuer: Option<&Ca>,
    expired: bool,
) -> (Pair, rcgen::Certificate) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    for name in names {
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().unwrap()),
        });
    }
    params.distinguished_name.push(DnType::CommonName, cn);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = match issuer {
        Some(ca) => params.signed_by(&key, &ca.cert, &ca.key).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        },
        cert,
    )
}

/// An HTTPS server presenting `chain` (PEM, leaf first).
fn serve(chain: String, key: String) -> TestServer {
    TestServer::start(move || {
        https::create_server(
            ServerOptions {
                cert: chain.into_bytes(),
                key: key.into_bytes(),
                ..Default::default()
            },
            |_req, res| res.end("hi"),
        )
        .expect("a usable certificate")
    })
}

/// What a request saw: its body or its error code, and the socket's
/// verdict (`authorized`, `authorization_error`) while the response came.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Served {
        authorized: bool,
        error: Option<String>,
    },
    Refused {
        code: String,
        kind: ErrorKind,
        message: String,
        rustls_cause: bool,
    },
}

fn fetch(options: RequestOptions) -> Seen {
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let req = https::request(options, move |res| {
        let socket = res.socket().expect("a socket while the response arrives");
        *s.borrow_mut() = Some(Seen::Served {
            authorized: socket.authorized(),
            error: socket.authorization_error().map(|i| i.code().to_owned()),
        });
        res.resume();
    });
    let s = seen.clone();
    req.on_error(move |e| {
        let rustls_cause = std::error::Error::source(e)
            .is_some_and(|c| c.downcast_ref::<rustls::Error>().is_some());
        *s.borrow_mut() = Some(Seen::Refused {
            code: e.code().to_owned(),
            kind: e.kind(),
            message: e.message().to_owned(),
            rustls_cause,
        });
    });
    req.end(());
    nodelike::run();
    let out = seen.borrow_mut().take().expect("an outcome");
    out
}

fn to(port: u16, ca: Option<&str>, reject: bool) -> RequestOptions {
    RequestOptions {
        host: "localhost".into(),
        port,
        path: "/".into(),
        tls: Some(ClientTlsOptions {
            ca: ca.map(|c| c.as_bytes().to_vec()),
            reject_unauthorized: reject,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn code(seen: &Seen) -> String {
    match seen {
        Seen::Served { error, .. } => error.clone().unwrap_or_else(|| "authorized".into()),
        Seen::Refused { code, .. } => code.clone(),
    }
}

/// Every broken chain, rejected and not: the code is the same both ways,
/// and with `reject_unauthorized: false` the request is served with
/// `authorized() == false`.
#[test]
fn every_broken_chain_has_nodes_code_whether_rejected_or_not() {
    let root = ca("root");
    let other_root = ca("someone else");
    let mid = intermediate(&root, "intermediate");

    let (good, _) = leaf(&["localhost"], "localhost", Some(&root), false);
    let (self_signed, _) = leaf(&["localhost"], "localhost", None, false);
    let (by_mid, _) = leaf(&["localhost"], "localhost", Some(&mid), false);
    let (expired, _) = leaf(&["localhost"], "localhost", Some(&root), true);
    let (wrong_name, _) = leaf(&["example.com"], "example.com", Some(&root), false);

    let cases: Vec<(&str, String, String, &str, &str)> = vec![
        // (what, chain served, key, ca trusted, Node's verdict)
        (
            "trusted",
            good.cert.clone(),
            good.key.clone(),
            "root",
            "authorized",
        ),
        (
            "self-signed",
            self_signed.cert.clone(),
            self_signed.key.clone(),
            "root",
            "DEPTH_ZERO_SELF_SIGNED_CERT",
        ),
        (
            "unknown issuer",
            good.cert.clone(),
            good.key.clone(),
            "other",
            "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        ),
        // The chain sent up to its untrusted root.
        (
            "self-signed root in the chain",
            format!("{}{}{}", by_mid.cert, mid.cert.pem(), root.cert.pem()),
            by_mid.key.clone(),
            "other",
            "SELF_SIGNED_CERT_IN_CHAIN",
        ),
        (
            "intermediate without its root",
            format!("{}{}", by_mid.cert, mid.cert.pem()),
            by_mid.key.clone(),
            "other",
            "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        ),
        (
            "intermediate sent, root trusted",
            format!("{}{}", by_mid.cert, mid.cert.pem()),
            by_mid.key.clone(),
            "root",
            "authorized",
        ),
        (
            "expired",
            expired.cert.clone(),
            expired.key.clone(),
            "root",
            "CERT_HAS_EXPIRED",
        ),
        (
            "wrong name",
            wrong_name.cert.clone(),
            wrong_name.key.clone(),
            "root",
            "ERR_TLS_CERT_ALTNAME_INVALID",
        ),
    ];
    for (what, chain, key, trusted, verdict) in cases {
        let server = serve(chain, key);
        let ca_pem = match trusted {
            "root" => root.cert.pem(),
            _ => other_root.cert.pem(),
        };
        let lenient = fetch(to(server.port(), Some(&ca_pem), false));
        let strict = fetch(to(server.port(), Some(&ca_pem), true));
        server.stop();

        assert!(
            matches!(lenient, Seen::Served { .. }),
            "{what}: reject_unauthorized false is served: {lenient:?}"
        );
        assert_eq!(code(&lenient), verdict, "{what}: authorization_error");
        if let Seen::Served { authorized, .. } = lenient {
            assert_eq!(authorized, verdict == "authorized", "{what}: authorized()");
        }
        assert_eq!(code(&strict), verdict, "{what}: the rejecting request");
        match &strict {
            Seen::Served { authorized, .. } => assert!(authorized, "{what}"),
            Seen::Refused {
                rustls_cause, kind, ..
            } => {
                assert!(rustls_cause, "{what}: the rustls error is the source");
                assert_ne!(*kind, ErrorKind::TlsHandshake, "{what}: a certificate kind");
            }
        }
    }
}

#[test]
fn a_name_mismatch_is_worded_as_node_words_it() {
    let root = ca("root");
    let (pair, _) = leaf(&["example.com"], "example.com", Some(&root), false);
    let server = serve(pair.cert, pair.key);
    let seen = fetch(to(server.port(), Some(&root.cert.pem()), true));
    server.stop();
    match seen {
        Seen::Refused { message, kind, .. } => {
            assert_eq!(kind, ErrorKind::CertNameMismatch);
            assert_eq!(
                message,
                "Hostname/IP does not match certificate's altnames: \
                 Host: localhost. is not in the cert's altnames: DNS:example.com"
            );
        }
        other => panic!("served: {other:?}"),
    }
}

/// The name comes from `servername`, else the `Host` header's host (port
/// dropped), else the host, as Node's agent computes it.
#[test]
fn the_server_name_comes_from_servername_then_the_host_header_then_the_host() {
    let root = ca("root");
    let (pair, _) = leaf(
        &["api.example.test"],
        "api.example.test",
        Some(&root),
        false,
    );
    let server = serve(pair.cert, pair.key);
    let port = server.port();
    let ca_pem = root.cert.pem();
    let base = || RequestOptions {
        host: "127.0.0.1".into(),
        ..to(port, Some(&ca_pem), true)
    };
    // The host alone (an IP) is not the certificate's name.
    assert_eq!(code(&fetch(base())), "ERR_TLS_CERT_ALTNAME_INVALID");
    // A Host header names it.
    let with_host = RequestOptions {
        headers: vec![("Host".into(), format!("api.example.test:{port}"))],
        ..base()
    };
    assert_eq!(code(&fetch(with_host)), "authorized");
    // servername wins over the Host header.
    let mut wins = RequestOptions {
        headers: vec![("Host".into(), "api.example.test".into())],
        ..base()
    };
    wins.tls.as_mut().unwrap().servername = Some("other.example.test".into());
    assert_eq!(code(&fetch(wins)), "ERR_TLS_CERT_ALTNAME_INVALID");
    server.stop();
}

/// Without any subjectAltName, the subject CN names the host (Node's
/// fallback); with DNS SANs, the CN is ignored.
#[test]
fn the_common_name_counts_only_without_subject_alt_names() {
    let root = ca("root");
    let (cn_only, _) = leaf(&[], "localhost", Some(&root), false);
    let (san_elsewhere, _) = leaf(&["example.com"], "localhost", Some(&root), false);
    let ca_pem = root.cert.pem();
    let server = serve(cn_only.cert, cn_only.key);
    assert_eq!(
        code(&fetch(to(server.port(), Some(&ca_pem), true))),
        "authorized"
    );
    server.stop();
    let server = serve(san_elsewhere.cert, san_elsewhere.key);
    assert_eq!(
        code(&fetch(to(server.port(), Some(&ca_pem), true))),
        "ERR_TLS_CERT_ALTNAME_INVALID"
    );
    server.stop();
}

/// What `openssl req -x509` makes by default (a self-signed certificate
/// with `basicConstraints CA:TRUE`) is trusted when given as `ca`, as Node
/// and curl trust it.
#[test]
fn a_self_signed_ca_certificate_given_as_ca_is_trusted() {
    let dir = std::env::temp_dir().join(format!("nodelike-x509-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert_pem, key_pem) = if have("openssl") {
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        (
            std::fs::read_to_string(&cert).unwrap(),
            std::fs::read_to_string(&key).unwrap(),
        )
    } else {
        eprintln!("openssl missing: an rcgen CA:TRUE certificate stands in");
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let _ = std::fs::remove_dir_all(&dir);
    let server = serve(cert_pem.clone(), key_pem);
    assert_eq!(
        code(&fetch(to(server.port(), Some(&cert_pem), true))),
        "authorized"
    );
    assert_eq!(
        code(&fetch(to(server.port(), Some(&cert_pem), false))),
        "authorized"
    );
    server.stop();
}

/// `request_cert: true` without `ca`: the server asks, judges against the
/// system's roots, and (not rejecting) serves a client whose certificate
/// they do not vouch for, with `authorized() == false`.
#[test]
fn request_cert_without_ca_asks_and_reports_the_verdict() {
    let p = pki();
    let server = TestServer::start({
        let (cert, key) = (p.server_cert.clone(), p.server_key.clone());
        move || {
            https::create_server(
                ServerOptions {
                    cert: cert.into_bytes(),
                    key: key.into_bytes(),
                    request_cert: true,
                    reject_unauthorized: Some(false),
                    ..Default::default()
                },
                |req, res| {
                    let s = req.connection();
                    let cn = s.peer_certificate().and_then(|c| c.subject.cn);
                    res.end(format!(
                        "{} {:?} {cn:?}",
                        s.authorized(),
                        s.authorization_error().map(|i| i.code())
                    ))
                },
            )
            .expect("request_cert without ca is a valid configuration")
        }
    });
    let body = Rc::new(RefCell::new(String::new()));
    let b = body.clone();
    let req = https::request(
        RequestOptions {
            tls: Some(ClientTlsOptions {
                ca: Some(p.ca_pem.clone().into_bytes()),
                cert: Some(p.client_cert.clone().into_bytes()),
                key: Some(p.client_key.clone().into_bytes()),
                ..Default::default()
            }),
            ..to(server.port(), None, true)
        },
        move |res| {
            let b = b.clone();
            res.on_data(move |c| b.borrow_mut().push_str(&String::from_utf8_lossy(&c)));
        },
    );
    req.on_error(|e| panic!("{e}"));
    req.end(());
    nodelike::run();
    server.stop();
    // The test CA is not among the system's roots: the chain of one
    // certificate leads nowhere.
    assert_eq!(
        *body.borrow(),
        "false Some(\"UNABLE_TO_VERIFY_LEAF_SIGNATURE\") Some(\"alice\")"
    );
}

#[test]
fn configuration_mistakes_have_their_own_kind_and_openssls_codes() {
    let p = pki();
    let attempt = |cert: &str, key: &str| {
        https::create_server(
            ServerOptions {
                cert: cert.as_bytes().to_vec(),
                key: key.as_bytes().to_vec(),
                ..Default::default()
            },
            |_req, res| res.end(()),
        )
        .map(|_| ())
        .expect_err("refused")
    };
    let e = attempt("not a pem", &p.server_key);
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::TlsConfig, "ERR_OSSL_PEM_NO_START_LINE")
    );
    let e = attempt(&p.server_cert, &p.client_key);
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::TlsConfig, "ERR_OSSL_X509_KEY_VALUES_MISMATCH")
    );
    assert!(
        std::error::Error::source(&e).is_some_and(|c| c.downcast_ref::<rustls::Error>().is_some())
    );
    let e = attempt(
        &p.server_cert,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    assert_eq!(e.kind(), ErrorKind::TlsConfig);
    // The client's own configuration, reported on the request.
    let mut o = to(1, Some("garbage"), true);
    o.host = "127.0.0.1".into();
    let seen = fetch(o);
    assert!(
        matches!(&seen, Seen::Refused { kind: ErrorKind::TlsConfig, code, .. } if code == "ERR_OSSL_PEM_NO_START_LINE"),
        "{seen:?}"
    );
}

/// Our `peer_certificate()` against Node's `getPeerCertificate()` for
/// the same RSA certificate: a Node client connects to our server and
/// prints what it sees; our client connects to the same server.
#[test]
fn peer_certificate_fields_match_what_nodes_client_sees() {
    if !have("node") || !have("openssl") {
        eprintln!("skipped: node or openssl missing");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nodelike-rsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost/O=nodelike"])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        ])
        .args(["-addext", "extendedKeyUsage=serverAuth,clientAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let server = serve(cert_pem.clone(), std::fs::read_to_string(&key).unwrap());

    let script = format!(
        "const tls = require('tls');
         const s = tls.connect({{ port: {}, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false }}, () => {{
           const c = s.getPeerCertificate();
           const fields = {{ authorized: s.authorized, error: s.authorizationError,
             subjectaltname: c.subjectaltname, modulus: c.modulus, exponent: c.exponent, bits: c.bits,
             fingerprint: c.fingerprint, fingerprint256: c.fingerprint256, fingerprint512: c.fingerprint512,
             ext_key_usage: [...c.ext_key_usage].sort().join(' '), serialNumber: c.serialNumber,
             raw: c.raw.toString('hex'), pubkey: c.pubkey.toString('hex') }};
           for (const [k, v] of Object.entries(fields)) console.log(k + '\t' + v);
           s.end();
         }});",
        server.port()
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node = String::from_utf8(out.stdout).unwrap();

    let ours = Rc::new(RefCell::new(None));
    let o = ours.clone();
    let req = https::request(to(server.port(), None, false), move |res| {
        let socket = res.socket().unwrap();
        *o.borrow_mut() = Some((
            socket.peer_certificate().unwrap(),
            socket.authorized(),
            socket.authorization_error().map(|i| i.code()),
        ));
        res.resume();
    });
    req.end(());
    nodelike::run();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let (cert, authorized, error) = ours.borrow_mut().take().unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let field = |name: &str| {
        node.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("{name} in {node}"))
            .to_owned()
    };
    assert!(!authorized);
    assert_eq!(field("authorized"), "false");
    assert_eq!(error.unwrap(), field("error"));
    assert_eq!(
        cert.subjectaltname.as_deref().unwrap(),
        field("subjectaltname")
    );
    assert_eq!(cert.modulus.as_deref().unwrap(), field("modulus"));
    assert_eq!(cert.exponent.as_deref().unwrap(), field("exponent"));
    assert_eq!(cert.bits.to_string(), field("bits"));
    assert_eq!(cert.fingerprint, field("fingerprint"));
    assert_eq!(cert.fingerprint256, field("fingerprint256"));
    assert_eq!(cert.fingerprint512, field("fingerprint512"));
    assert_eq!(cert.serial_number, field("serialNumber"));
    assert_eq!(hex(&cert.raw), field("raw"));
    assert_eq!(hex(&cert.pubkey), field("pubkey"));
    let mut usage = cert.ext_key_usage.clone();
    usage.sort();
    assert_eq!(usage.join(" "), field("ext_key_usage"));
    assert!(cert.issuer_certificate.is_none(), "self-issued");
}

/// `issuer_certificate` follows the chain the server sent.
#[test]
fn the_issuer_certificate_links_up_the_chain_sent() {
    let root = ca("root");
    let mid = intermediate(&root, "intermediate");
    let (pair, _) = leaf(&["localhost"], "localhost", Some(&mid), false);
    let server = serve(format!("{}{}", pair.cert, mid.cert.pem()), pair.key);
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let req = https::request(
        to(server.port(), Some(&root.cert.pem()), true),
        move |res| {
            *s.borrow_mut() = res.socket().unwrap().peer_certificate();
            res.resume();
        },
    );
    req.end(());
    nodelike::run();
    server.stop();
    let cert = seen.borrow_mut().take().unwrap();
    assert_eq!(cert.subject.cn.as_deref(), Some("localhost"));
    let issuer = cert.issuer_certificate.expect("the intermediate was sent");
    assert_eq!(issuer.subject.cn.as_deref(), Some("intermediate"));
    assert_eq!(issuer.issuer.cn.as_deref(), Some("root"));
    assert!(issuer.issuer_certificate.is_none(), "the root was not sent");
}

/// A server that requires client certificates reports each refusal on
/// `tls_client_error` with Node's code, not one catch-all; a client
/// sending dozens of forged intermediates is refused before any path is
/// built (`CERT_CHAIN_TOO_LONG`).
#[test]
fn a_server_requiring_certificates_reports_each_refusal_with_nodes_code() {
    let p = pki();
    let root = ca("client root");
    let (tx, rx) = std::sync::mpsc::channel();
    let server = TestServer::start({
        let (cert, key, ca_pem) = (p.server_cert.clone(), p.server_key.clone(), root.cert.pem());
        move || {
            let server = https::create_server(
                ServerOptions {
                    cert: cert.into_bytes(),
                    key: key.into_bytes(),
                    ca: Some(ca_pem.into_bytes()),
                    request_cert: true,
                    ..Default::default()
                },
                |_req, res| res.end("in"),
            )
            .unwrap();
            server.on_tls_client_error(move |e, _socket| tx.send(e.code()).unwrap());
            server
        }
    });
    let (expired, _) = leaf(&[], "old client", Some(&root), true);
    let (stranger, _) = leaf(&[], "stranger", None, false);
    let (good, _) = leaf(&[], "alice", Some(&root), false);
    let forged: String = (0..60)
        .map(|i| {
            intermediate(&ca(&format!("forger {i}")), "forged")
                .cert
                .pem()
        })
        .collect();
    let cases = [
        (
            "expired",
            expired.cert.clone(),
            expired.key.clone(),
            Some("CERT_HAS_EXPIRED"),
        ),
        (
            "self-signed",
            stranger.cert.clone(),
            stranger.key.clone(),
            Some("DEPTH_ZERO_SELF_SIGNED_CERT"),
        ),
        (
            "60 intermediates",
            format!("{}{forged}", good.cert),
            good.key.clone(),
            Some("CERT_CHAIN_TOO_LONG"),
        ),
        ("trusted", good.cert.clone(), good.key.clone(), None),
    ];
    for (what, cert, key, refusal) in cases {
        let options = RequestOptions {
            tls: Some(ClientTlsOptions {
                ca: Some(p.ca_pem.clone().into_bytes()),
                cert: Some(cert.into_bytes()),
                key: Some(key.into_bytes()),
                ..Default::default()
            }),
            agent: None,
            ..to(server.port(), None, true)
        };
        let seen = fetch(options);
        match refusal {
            Some(code) => {
                assert!(matches!(seen, Seen::Refused { .. }), "{what}: {seen:?}");
                let got = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
                assert_eq!(got, code, "{what}");
            }
            None => assert_eq!(code(&seen), "authorized", "{what}"),
        }
    }
    server.stop();
}
