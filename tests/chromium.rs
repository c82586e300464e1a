//! Headless Chromium over the DevTools protocol: a small synchronous client (a
//! websocket, JSON messages) that opens a page and reports what a person's browser
//! would show wrong with it. The only part of the tests that talks to Chromium.
//! Chromium is Debian's (`apt-get install chromium`, done by scripts/setup.sh); a
//! missing browser fails the test, it never skips it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Debian's browser binary (the `chromium` wrapper script only adds flags).
pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// A running headless Chromium, ended (and its profile removed) on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    session: String,
    /// Events received so far (console, exceptions, failed loads, ...).
    pub events: Vec<Value>,
    profile: std::path::PathBuf,
}

/// What the page showed: body text, the rendered width of each chart's texts,
/// a screenshot, and everything that went wrong while loading.
pub struct PageCheck {
    pub body_text: String,
    /// Per `<svg>`: the rendered width of each of its `<text>` elements.
    pub svg_text_widths: Vec<Vec<f64>>,
    pub screenshot_png: Vec<u8>,
    /// Console errors and warnings, exceptions, failed loads, in words.
    pub problems: Vec<String>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and attaches to a blank page.
    pub fn launch(profile: &Path) -> Browser {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: install it with `apt-get install -y --no-install-recommends chromium` (scripts/setup.sh does)"
        );
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMIUM} does not start: {e}"));
        // Chromium prints its DevTools address on stderr once it listens.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("Chromium printed no DevTools address within 60 s");
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let stream = TcpStream::connect(&host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client::client(url.as_str(), stream).unwrap();
        let mut b = Browser {
            child,
            ws,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            profile: profile.to_path_buf(),
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page", "Runtime", "Log", "Network"] {
            b.call(&format!("{domain}.enable"), json!({}));
        }
        b
    }

    /// Sends a command (to the page once attached) and waits for its result;
    /// events that arrive meanwhile are kept.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let v = self.receive();
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            match self.ws.read().expect("DevTools socket read") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(_) => panic!("Chromium closed the DevTools socket"),
                _ => continue,
            }
        }
    }

    /// Waits until an event named `method` has arrived (or `timeout` passes).
    fn wait_for(&mut self, method: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.events.iter().any(|e| e["method"] == method) {
                return true;
            }
            let v = self.receive();
            self.events.push(v);
        }
        false
    }

    /// Opens `path`, waits for it to load and settle, and checks it.
    pub fn check(&mut self, path: &Path) -> PageCheck {
        self.events.clear();
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        let url = format!("file://{}", path.canonicalize().unwrap().display());
        self.call("Page.navigate", json!({"url": url}));
        assert!(
            self.wait_for("Page.loadEventFired", Duration::from_secs(60)),
            "{url} did not load in 60 s"
        );
        // Late console messages (a CSP report, a failed image) arrive after load.
        self.call(
            "Runtime.evaluate",
            json!({"expression": "new Promise(r => setTimeout(r, 500))", "awaitPromise": true}),
        );
        let body_text = self.eval("document.body ? document.body.innerText : ''");
        let widths = self.eval(
            "Array.from(document.querySelectorAll('svg')).map(s => Array.from(s.querySelectorAll('text')).map(t => t.getBBox().width))",
        );
        let height = self.eval("Math.ceil(document.documentElement.scrollHeight)");
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1100, "height": height.as_f64().unwrap_or(900.0).min(16000.0), "deviceScaleFactor": 1, "mobile": false}),
        );
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        use base64::Engine as _;
        let screenshot_png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        PageCheck {
            body_text: body_text.as_str().unwrap_or_default().to_string(),
            svg_text_widths: widths
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|w| w.as_f64().unwrap_or(0.0))
                        .collect()
                })
                .collect(),
            screenshot_png,
            problems: problems(&self.events),
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The events that mean the page is broken for its reader, in words.
fn problems(events: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
            {
                out.push(format!("console {}: {}", p["type"], p["args"]));
            }
            "Runtime.exceptionThrown" => out.push(format!("exception: {}", p["exceptionDetails"])),
            "Log.entryAdded"
                if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) =>
            {
                out.push(format!(
                    "log {}: {}",
                    p["entry"]["level"], p["entry"]["text"]
                ));
            }
            "Network.loadingFailed" => out.push(format!(
                "failed load: {} {}",
                p["errorText"], p["blockedReason"]
            )),
            _ => {}
        }
    }
    out
}

/// Share of screenshot pixels that are not near-white, and the number of distinct
/// colours (a blank page has one).
pub fn ink(png: &[u8]) -> (f64, usize) {
    let p = resvg::tiny_skia::Pixmap::decode_png(png).expect("the screenshot is a PNG");
    let px = p.pixels();
    let inked = px
        .iter()
        .filter(|c| c.red() < 235 || c.green() < 235 || c.blue() < 235)
        .count();
    let mut colours: Vec<u32> = px
        .iter()
        .map(|c| u32::from_be_bytes([c.red(), c.green(), c.blue(), c.alpha()]))
        .collect();
    colours.sort_unstable();
    colours.dedup();
    (inked as f64 / px.len().max(1) as f64, colours.len())
}
