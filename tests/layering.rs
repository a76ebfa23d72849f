//! The dependency rule of the crate, checked on its sources: layers run one
//! way, `ws` → `http` → `net` (with `fs` and `zlib` beside it) → `stream` →
//! `runtime`. Nothing in `src/runtime` names a layer above it; `src/stream`
//! (the stream traits, `pipe`) names only `runtime`; nothing in `src/net`,
//! `src/fs` or `src/zlib` names `http`. Calls go back up only through
//! what the lower layer defines (work items, I/O handlers, protocol hooks).
//!
//! The shared leaves at the crate root (`chunk`, `error`, `encoding`,
//! `url`, `querystring`) may be used by every layer and name none.
//!
//! Comments are not code: a doc comment may show how a higher layer uses a
//! lower one.

use std::path::{Path, PathBuf};

/// Where a source file sits in the layering, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Shared leaves: chunk, error, encoding, url, querystring.
    Leaf,
    Runtime,
    /// The stream contract: `stream::{Readable, Writable}`, `pipe`.
    Stream,
    /// `net`, and the services beside it: `fs`, `zlib`.
    Net,
    Http,
    /// `ws`: WebSocket, on HTTP's upgrade and client.
    Ws,
    /// `lib.rs` (the top, re-exporting everything) and `cluster.rs` (loops
    /// on threads, above every layer).
    Top,
}

fn layer_of(path: &Path) -> Layer {
    let rel = path.to_string_lossy().replace('\\', "/");
    if rel.contains("src/runtime/") {
        Layer::Runtime
    } else if rel.contains("src/stream/") {
        Layer::Stream
    } else if rel.contains("src/net/") || rel.contains("src/fs/") || rel.contains("src/zlib/") {
        Layer::Net
    } else if rel.contains("src/http/") {
        Layer::Http
    } else if rel.contains("src/ws/") {
        Layer::Ws
    } else if rel.ends_with("src/lib.rs") || rel.ends_with("src/cluster.rs") {
        Layer::Top
    } else {
        Layer::Leaf
    }
}

/// The layers a line of code names, by the paths it uses.
fn layers_named(code: &str, own: Layer) -> Vec<Layer> {
    let mut named = Vec::new();
    let patterns: [(&str, Layer); 14] = [
        ("crate::runtime", Layer::Runtime),
        ("crate::stream", Layer::Stream),
        ("crate::net", Layer::Net),
        ("crate::fs", Layer::Net),
        ("crate::zlib", Layer::Net),
        ("crate::http", Layer::Http),
        ("nodelike::runtime", Layer::Runtime),
        ("nodelike::stream", Layer::Stream),
        ("nodelike::net", Layer::Net),
        ("nodelike::fs", Layer::Net),
        ("nodelike::zlib", Layer::Net),
        ("nodelike::http", Layer::Http),
        ("crate::ws", Layer::Ws),
        ("nodelike::ws", Layer::Ws),
    ];
    for (pattern, layer) in patterns {
        if code.contains(pattern) {
            named.push(layer);
        }
    }
    // `super::` out of a layer's folder root reaches the crate root, and
    // from there any layer: `super::http` in `src/net/mod.rs`, say.
    for (name, layer) in [
        ("runtime", Layer::Runtime),
        ("stream", Layer::Stream),
        ("net", Layer::Net),
        ("fs", Layer::Net),
        ("zlib", Layer::Net),
        ("http", Layer::Http),
        ("ws", Layer::Ws),
    ] {
        for prefix in ["super::", "super::super::", "super::super::super::"] {
            if code.contains(&format!("{prefix}{name}::"))
                && layer != own
                && !named.contains(&layer)
            {
                named.push(layer);
            }
        }
    }
    named
}

/// The code of a line: what comes before a `//` comment.
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every back-import in `source` (a file at `path`), as `file:line: text`.
fn violations(path: &Path, source: &str) -> Vec<String> {
    let own = layer_of(path);
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = code_of(line);
        for named in layers_named(code, own) {
            let allowed = match own {
                Layer::Leaf => false,
                Layer::Top => true,
                _ => named <= own,
            };
            if !allowed {
                found.push(format!(
                    "{}:{}: {:?} names {:?}: {}",
                    path.display(),
                    i + 1,
                    own,
                    named,
                    line.trim()
                ));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_depend_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found the sources ({} files)",
        files.len()
    );
    let mut all = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable source");
        all.extend(violations(file, &source));
    }
    assert!(
        all.is_empty(),
        "imports that run back up the layers (http → net, fs, zlib → stream → runtime):\n{}",
        all.join("\n")
    );
}

#[test]
fn a_deliberate_back_import_is_caught_with_its_file_and_line() {
    let runtime = Path::new("src/runtime/mod.rs");
    let source = "//! The loop.\nuse std::cell::Cell;\nuse crate::http::server::ServerRec;\n";
    let found = violations(runtime, source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("src/runtime/mod.rs:3: Runtime names Http"));

    let net = Path::new("src/net/io.rs");
    assert_eq!(
        violations(net, "fn f() { crate::http::client::on_wake() }").len(),
        1
    );
    assert_eq!(violations(net, "use super::super::http::Server;").len(), 1);
    assert!(violations(net, "use crate::runtime::{self, Work};").is_empty());
    // Comments and doc examples are not imports.
    assert!(violations(
        net,
        "/// let s = nodelike::http::create_server(|_, res| res.end(()));"
    )
    .is_empty());

    let stream = Path::new("src/stream/pipe.rs");
    assert_eq!(violations(stream, "use crate::net::Socket;").len(), 1);
    assert!(violations(stream, "crate::runtime::bury(x);").is_empty());
    let fs = Path::new("src/fs/mod.rs");
    assert_eq!(violations(fs, "use crate::http::ServerResponse;").len(), 1);

    let leaf = Path::new("src/chunk.rs");
    assert_eq!(violations(leaf, "use crate::net::Socket;").len(), 1);
    let http = Path::new("src/http/server/conn.rs");
    assert!(violations(http, "use crate::net::{self, SockId};").is_empty());
}
