//! A throwaway PKI for the TLS tests: a CA, a server certificate for
//! `localhost`/127.0.0.1 and a client certificate, all signed by the CA,
//! written to a temporary folder for the peers (curl, node) to read.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

pub struct Pki {
    pub ca_pem: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    /// A self-signed certificate and key the CA knows nothing of.
    pub stranger_cert: String,
    pub stranger_key: String,
    pub dir: PathBuf,
}

impl Pki {
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "nodelike test CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "nodelike");
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, "alice");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "Example");
    client
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "Testing");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key).unwrap();

    let stranger_key = KeyPair::generate().unwrap();
    let mut stranger = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    stranger
        .distinguished_name
        .push(DnType::CommonName, "mallory");
    let stranger_cert = stranger.self_signed(&stranger_key).unwrap();

    let dir = std::env::temp_dir().join(format!(
        "nodelike-pki-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pki = Pki {
        ca_pem: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
        stranger_cert: stranger_cert.pem(),
        stranger_key: stranger_key.serialize_pem(),
        dir,
    };
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("server.pem", &pki.server_cert),
        ("server.key", &pki.server_key),
        ("client.pem", &pki.client_cert),
        ("client.key", &pki.client_key),
        ("stranger.pem", &pki.stranger_cert),
        ("stranger.key", &pki.stranger_key),
    ] {
        std::fs::write(pki.dir.join(name), pem).unwrap();
    }
    pki
}
