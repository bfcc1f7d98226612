import { describe, expect, it } from "vitest";
import { layout } from "./layout.js";
import { renderNginxConf } from "./nginx-conf.js";
import { readSettings } from "./settings.js";

function conf(env: Record<string, string>, selfSigned = false): string {
  const settings = readSettings({ OUT_DIR: "/run/front", CERT_BUCKET: "certs", ...env });
  return renderNginxConf(settings, layout(settings.outDir), { selfSigned });
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
});
