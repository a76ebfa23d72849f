//! The sans-IO HTTP/2 core through its public API only, used the way the
//! I/O layer will: `poll` in a loop over a socket's buffered input, user
//! code run between events with the connection free to be called again.

use nodelike::http::h2::hpack::Field;
use nodelike::http::h2::{Config, Connection, ErrorCode, Event, Role};

/// What a socket hook does: keep unconsumed input, poll until nothing is
/// left, and hand each event to `on_event` with the connection (the event's
/// borrow of it ended: only the input slice is still borrowed).
fn drive(
    conn: &mut Connection,
    held: &mut Vec<u8>,
    incoming: &[u8],
    out: &mut Vec<u8>,
    on_event: &mut dyn FnMut(&mut Connection, Owned<'_>, &mut Vec<u8>),
) {
    held.extend_from_slice(incoming);
    let mut pos = 0;
    let input = std::mem::take(held);
    loop {
        let (n, event) = conn.poll(&input[pos..], out).expect("no connection error");
        pos += n;
        let Some(event) = event else { break };
        // Header fields are copied out of the connection's buffer; DATA
        // stays a slice of the input.
        let owned = match event {
            Event::Headers {
                stream,
                fields,
                end_stream,
            } => Owned::Head(
                stream,
                fields
                    .iter()
                    .map(|(n, v)| (n.to_vec(), v.to_vec()))
                    .collect(),
                end_stream,
            ),
            Event::Data {
                stream,
                data,
                end_stream,
            } => Owned::Data(stream, data, end_stream),
            _ => Owned::Other,
        };
        on_event(conn, owned, out);
    }
    *held = input[pos..].to_vec();
}

#[derive(Debug)]
enum Owned<'i> {
    Head(u32, Vec<(Vec<u8>, Vec<u8>)>, bool),
    Data(u32, &'i [u8], bool),
    Other,
}

/// An echo server: answers each request with its body, upper-cased.
fn echo_server(
    conn: &mut Connection,
    event: Owned<'_>,
    out: &mut Vec<u8>,
    bodies: &mut Vec<Vec<u8>>,
) {
    match event {
        Owned::Head(stream, fields, end_stream) => {
            assert!(fields.iter().any(|(n, v)| n == b":method" && v == b"POST"));
            let status = Field {
                name: b":status",
                value: b"200",
                sensitive: false,
            };
            conn.send_headers(stream, [status], false, out).unwrap();
            if end_stream {
                conn.send_data(stream, b"", true, out).unwrap();
            }
        }
        Owned::Data(stream, data, end_stream) => {
            // User code sees the slice while calling the connection.
            let upper = data.to_ascii_uppercase();
            conn.release(stream, data.len(), out);
            let taken = conn.send_data(stream, &upper, end_stream, out).unwrap();
            assert_eq!(taken, upper.len(), "small bodies fit the windows");
            bodies.push(upper);
        }
        Owned::Other => {}
    }
}

fn exchange(split: usize, requests: usize) -> Vec<Vec<u8>> {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    client.start(&mut to_server);
    server.start(&mut to_client);
    let (mut server_held, mut client_held) = (Vec::new(), Vec::new());
    let mut bodies = Vec::new();
    let mut responses = Vec::new();
    for i in 0..requests {
        let secret = format!("Bearer {i}");
        let fields = [
            Field {
                name: b":method",
                value: b"POST",
                sensitive: false,
            },
            Field {
                name: b":scheme",
                value: b"https",
                sensitive: false,
            },
            Field {
                name: b":path",
                value: b"/echo",
                sensitive: false,
            },
            Field {
                name: b"authorization",
                value: secret.as_bytes(),
                sensitive: true,
            },
        ];
        let id = client.open_stream(fields, false, &mut to_server).unwrap();
        client
            .send_data(id, format!("hello {i}").as_bytes(), true, &mut to_server)
            .unwrap();
        // Deliver in two pieces cut at `split`, both ways, until quiet.
        while !to_server.is_empty() || !to_client.is_empty() {
            let bytes = std::mem::take(&mut to_server);
            let cut = split.min(bytes.len());
            for piece in [&bytes[..cut], &bytes[cut..]] {
                drive(
                    &mut server,
                    &mut server_held,
                    piece,
                    &mut to_client,
                    &mut |c, e, o| echo_server(c, e, o, &mut bodies),
                );
            }
            let bytes = std::mem::take(&mut to_client);
            let cut = split.min(bytes.len());
            for piece in [&bytes[..cut], &bytes[cut..]] {
                drive(
                    &mut client,
                    &mut client_held,
                    piece,
                    &mut to_server,
                    &mut |c, e, o| {
                        if let Owned::Data(stream, data, _) = e {
                            c.release(stream, data.len(), o);
                            responses.push(data.to_vec());
                        }
                    },
                );
            }
        }
    }
    assert!(client.is_idle() && server.is_idle());
    assert_eq!(
        bodies,
        responses
            .iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect::<Vec<_>>()
    );
    responses
}

#[test]
fn an_echo_server_through_the_public_api_at_every_split() {
    let whole = exchange(usize::MAX, 3);
    assert_eq!(
        whole,
        [
            b"HELLO 0".to_vec(),
            b"HELLO 1".to_vec(),
            b"HELLO 2".to_vec()
        ]
    );
    for split in 0..120 {
        assert_eq!(exchange(split, 3), whole, "split at {split}");
    }
}

#[test]
fn a_thousand_requests_on_one_connection() {
    let responses = exchange(usize::MAX, 1000);
    assert_eq!(responses.len(), 1000);
    assert_eq!(responses[999], b"HELLO 999");
}

#[test]
fn a_connection_error_is_reported_once_and_then_sticks() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut out = Vec::new();
    server.start(&mut out);
    // A PING before the client's SETTINGS.
    let err = server
        .poll(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x08\x06\0\0\0\0\0pingping",
            &mut out,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProtocolError);
    assert_eq!(server.poll(b"", &mut out).unwrap_err(), err);
    assert!(server.send_data(1, b"x", true, &mut out).is_err());
}
