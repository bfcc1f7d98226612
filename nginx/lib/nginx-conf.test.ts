import { describe, expect, it } from "vitest";
import { layout } from "./layout.js";
import { renderNginxConf } from "./nginx-conf.js";
import { readSettings } from "./settings.js";

function conf(env: Record<string, string>, selfSigned = false, crl = false): string {
  const settings = readSettings({ OUT_DIR: "/run/front", CERT_BUCKET: "certs", ...env });
  return renderNginxConf(settings, layout(settings.outDir), { selfSigned, crl });
}

const clientauth = () => conf({ AUTH_MODE: "clientauth", CERT_MODE: "FROMS3" });
const anonymous = () => conf({ AUTH_MODE: "anonymous", CERT_MODE: "ACM" }, true);

describe("renderNginxConf", () => {
  it("passes the verified client DN in clientauth mode", () => {
    const text = clientauth();
    expect(text).toContain("ssl_verify_client on;");
    expect(text).toContain("ssl_client_certificate /run/front/tls/truststore.crt;");
    expect(text).toContain("proxy_set_header X-Client-DN $ssl_client_s_dn;");
  });

  it("asks for no certificate and blanks X-Client-DN in anonymous mode", () => {
    const text = anonymous();
    expect(text).not.toContain("ssl_verify_client");
    expect(text).not.toContain("truststore");
    expect(text).toContain('proxy_set_header X-Client-DN "";');
  });

  it("in oidc mode asks for no certificate; with clientauth+oidc it requires one; both leave Authorization to the client", () => {
    const oidc = conf({ AUTH_MODE: "oidc", CERT_MODE: "FROMS3" });
    expect(oidc).not.toContain("ssl_verify_client");
    expect(oidc).toContain('proxy_set_header X-Client-DN "";');
    const both = conf({ AUTH_MODE: "clientauth+oidc", CERT_MODE: "FROMS3" });
    expect(both).toContain("ssl_verify_client on;");
    expect(both).toContain("proxy_set_header X-Client-DN $ssl_client_s_dn;");
    for (const text of [oidc, both, clientauth(), anonymous()]) expect(text).not.toMatch(/proxy_set_header\s+Authorization|proxy_pass_request_headers/i);
  });

  it("logs no request header in any mode (no Authorization, no cookie)", () => {
    for (const text of [conf({ AUTH_MODE: "oidc", CERT_MODE: "FROMS3" }), conf({ AUTH_MODE: "clientauth+oidc", CERT_MODE: "FROMS3" }), anonymous()]) {
      const format = /log_format front[\s\S]*?';/.exec(text)?.[0];
      expect(format).toBeDefined();
      expect(format).not.toMatch(/\$http_|\$request\b|\$request_uri|\$args|\$query_string/);
    }
  });

  it("proxies without rewriting the URI and without buffering", () => {
    for (const text of [clientauth(), anonymous()]) {
      expect(text).toMatch(/proxy_pass http:\/\/app;/);
      expect(text).not.toMatch(/proxy_pass http:\/\/app\//);
      expect(text).toContain("proxy_request_buffering off;");
      expect(text).toContain("proxy_http_version 1.1;");
      expect(text).toContain('proxy_set_header Connection "";');
    }
  });

  it("allows TLS 1.2 and 1.3 only", () => {
    const protocols = [...clientauth().matchAll(/ssl_protocols ([^;]+);/g)].map((m) => m[1]);
    expect(protocols).toEqual(["TLSv1.2 TLSv1.3"]);
  });

  it("keeps every writable path under OUT_DIR", () => {
    const text = clientauth();
    const paths = [...text.matchAll(/^\s*(?:pid|\w+_temp_path|ssl_certificate|ssl_certificate_key) (\S+);/gm)].map((m) => m[1]);
    expect(paths).toHaveLength(8);
    for (const path of paths) expect(path.startsWith("/run/front/")).toBe(true);
  });

  it("uses the addresses, body limit and timeout it is given", () => {
    const text = conf({
      AUTH_MODE: "anonymous",
      CERT_MODE: "ACM",
      UPSTREAM: "10.0.0.5:9000",
      LISTEN: "[::]:8443",
      HEALTH_LISTEN: "127.0.0.1:9901",
      MAX_REQUEST_BYTES: "0",
      UPSTREAM_TIMEOUT_SECONDS: "7200",
    });
    expect(text).toContain("server 10.0.0.5:9000;");
    expect(text).toContain("listen [::]:8443 ssl http2;");
    expect(text).toContain("listen 127.0.0.1:9901;");
    expect(text).toContain("client_max_body_size 0;");
    expect(text).toContain("proxy_read_timeout 7200s;");
    expect(text).toContain("proxy_send_timeout 7200s;");
  });

  it("defaults the body limit to the app's 50 GiB", () => {
    expect(clientauth()).toContain("client_max_body_size 53687091200;");
  });

  it("limits requests in progress per certificate subject with client certificates, per address without", () => {
    const mtls = clientauth();
    expect(mtls).toContain("limit_conn_zone $front_client_key zone=per_client:10m;");
    expect(mtls).toMatch(/map \$ssl_client_s_dn \$front_client_key \{\s+"" "addr:\$binary_remote_addr";\s+"~\^\.\{1,250\}\$" "dn:\$ssl_client_s_dn";\s+default "cert:\$ssl_client_fingerprint";/);
    expect(mtls).toContain("limit_conn per_client 32;");
    const anon = anonymous();
    expect(anon).toContain("limit_conn_zone $binary_remote_addr zone=per_client:10m;");
    expect(anon).not.toContain("$front_client_key");
    for (const text of [mtls, anon]) {
      expect(text).toContain("limit_conn_status 429;");
      expect(text).toContain("error_page 429 = @too_many_requests;");
      expect(text).toMatch(/location @too_many_requests \{\s+add_header Retry-After 10 always;\s+return 429 "Too many requests in progress/);
    }
    // Only the STOW-RS server is limited, not the load balancer's health checks.
    expect(mtls.slice(mtls.indexOf("# Plain HTTP for the load balancer"))).not.toContain("limit_conn");
  });

  it("MAX_CONNECTIONS_PER_CLIENT=0 renders no limit at all", () => {
    const text = conf({ AUTH_MODE: "clientauth", CERT_MODE: "FROMS3", MAX_CONNECTIONS_PER_CLIENT: "0" });
    expect(text).not.toMatch(/limit_conn|429|front_client_key/);
  });

  it("waits for a silent client no longer than the app's BODY_RATE_WINDOW_SECONDS", () => {
    expect(clientauth()).toMatch(/client_header_timeout 60s;\s+client_body_timeout 60s;\s+send_timeout 60s;/);
    const text = conf({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", BODY_RATE_WINDOW_SECONDS: "5" });
    expect(text).toMatch(/client_header_timeout 5s;\s+client_body_timeout 5s;\s+send_timeout 5s;/);
  });

  it("bounds the graceful stop with SHUTDOWN_TIMEOUT_SECONDS (0: do not wait, which nginx would read as no bound)", () => {
    expect(clientauth()).toMatch(/^worker_shutdown_timeout 30s;$/m);
    expect(conf({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", SHUTDOWN_TIMEOUT_SECONDS: "95" })).toMatch(/^worker_shutdown_timeout 95s;$/m);
    expect(conf({ AUTH_MODE: "anonymous", CERT_MODE: "ACM", SHUTDOWN_TIMEOUT_SECONDS: "0" })).toMatch(/^worker_shutdown_timeout 1ms;$/m);
  });

  it("loads crl.pem as ssl_crl only when there is one, beside the truststore", () => {
    expect(clientauth()).not.toContain("ssl_crl");
    const text = conf({ AUTH_MODE: "clientauth", CERT_MODE: "FROMS3" }, false, true);
    expect(text).toMatch(/ssl_client_certificate \/run\/front\/tls\/truststore\.crt;[\s\S]*ssl_crl \/run\/front\/tls\/crl\.pem;/);
  });

  it("refuses subjects not on ALLOWED_CLIENT_SUBJECTS with 403, comparing exactly (case and RFC 2253 escapes included)", () => {
    expect(clientauth()).not.toContain("front_client_allowed");
    const dns = ["CN=pacs1,O=Hospital", 'CN=Smith\\, John (CT.1) "east" $x,O=H'];
    const text = conf({ AUTH_MODE: "clientauth", CERT_MODE: "FROMS3", ALLOWED_CLIENT_SUBJECTS: JSON.stringify(dns) });
    const map = /map \$ssl_client_s_dn \$front_client_allowed \{([\s\S]*?)\n    \}/.exec(text)?.[1] ?? "";
    expect(map.trim().split("\n").map((l) => l.trim())).toEqual([
      "default 0;",
      '"~^CN=pacs1,O=Hospital$" 1;',
      // Regular-expression escapes, then nginx's quoting (\\ for \, \" for ").
      '"~^CN=Smith\\\\\\\\, John \\\\(CT\\\\.1\\\\) \\"east\\" \\\\$x,O=H$" 1;',
    ]);
    expect(text).toMatch(/location \/ \{\s+if \(\$front_client_allowed = 0\) \{\s+return 403 "The client certificate/);
  });
});
