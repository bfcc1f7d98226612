// Turns settings into the text of nginx.conf. Pure: no files, no network.

// Mozilla's "intermediate" TLS 1.2 suites without DHE (nginx has no default
// DH parameters); TLS 1.3 suites are OpenSSL's defaults and all modern.
const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** @param {{ host: string, port: number }} a */
const hostPort = (a) => `${a.host}:${a.port}`;

/** What a client refused by MAX_CONNECTIONS_PER_CLIENT is told to wait before trying again. */
export const RETRY_AFTER_SECONDS = 10;

/** A string as an nginx quoted token: nginx reads \\ as \ and \" as " inside double quotes. */
const quoted = (text) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/** A regular expression matching exactly `text`, case and all (nginx's plain map keys ignore case). */
const exactly = (text) => `~^${text.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&")}$`;

/**
 * The key requests are counted by: the verified certificate's subject, so that every sender
 * behind one address (a PACS gateway, a NAT) has its own allowance; by address without one.
 * nginx ignores keys over 255 bytes (they would not be limited), so a subject longer than
 * 250 is counted by its certificate's fingerprint instead.
 */
function clientKeyMap(clientAuth) {
  if (!clientAuth) return "";
  return `
    map $ssl_client_s_dn $front_client_key {
        "" "addr:$binary_remote_addr";
        "~^.{1,250}$" "dn:$ssl_client_s_dn";
        default "cert:$ssl_client_fingerprint";
    }
`;
}

/** 1 for a subject on ALLOWED_CLIENT_SUBJECTS (compared exactly, case included), else 0. */
function allowedSubjectsMap(subjects) {
  if (subjects.length === 0) return "";
  const rows = subjects.map((dn) => `        ${quoted(exactly(dn))} 1;`).join("\n");
  return `
    # ALLOWED_CLIENT_SUBJECTS: only these verified subjects may send; others get 403.
    map $ssl_client_s_dn $front_client_allowed {
        default 0;
${rows}
    }
`;
}

/**
 * @param {import("./settings.js").Settings} settings
 * @param {ReturnType<typeof import("./layout.js").layout>} paths
 * @param {{ selfSigned: boolean, crl?: boolean }} certificate
 */
export function renderNginxConf(settings, paths, certificate) {
  const clientAuth = settings.clientCertificates;
  const timeout = `${settings.upstreamTimeoutSeconds}s`;
  const window = `${settings.bodyRateWindowSeconds}s`;
  const limit = settings.maxConnectionsPerClient;
  const allowlist = clientAuth && settings.allowedClientSubjects.length > 0;
  // nginx reads worker_shutdown_timeout 0 as "no bound"; SHUTDOWN_TIMEOUT_SECONDS=0 means "do not wait".
  const shutdownTimeout = settings.shutdownTimeoutSeconds === 0 ? "1ms" : `${settings.shutdownTimeoutSeconds}s`;

  // An empty value makes nginx drop the header, so in anonymous mode a
  // client-sent X-Client-DN never reaches the app either.
  const clientDn = clientAuth ? "$ssl_client_s_dn" : '""';

  const clientAuthBlock = clientAuth
    ? `
        ssl_client_certificate ${paths.truststore};
        ssl_verify_client on;
        ssl_verify_depth 4;${
          certificate.crl
            ? `
        # Revoked certificates are refused (400, "certificate revoked"). With a CRL loaded, OpenSSL
        # wants a current CRL from every CA in a client's chain: an expired one, or none for a CA,
        # refuses all of that CA's certificates.
        ssl_crl ${paths.crl};`
            : ""
        }
        # nginx answers 400 for both; say which one it was.
        error_page 495 = @client_certificate_rejected;
        error_page 496 = @client_certificate_missing;
`
    : "";

  const clientAuthLocations = clientAuth
    ? `
        location @client_certificate_missing {
            return 400 "A client certificate is required: this endpoint uses mutual TLS.\\n";
        }

        location @client_certificate_rejected {
            return 400 "The client certificate was not accepted ($ssl_client_verify).\\n";
        }
`
    : "";

  const limitErrorPage = limit > 0 ? "\n        error_page 429 = @too_many_requests;" : "";
  const limitLocation =
    limit > 0
      ? `
        location @too_many_requests {
            add_header Retry-After ${RETRY_AFTER_SECONDS} always;
            return 429 "Too many requests in progress from this client (MAX_CONNECTIONS_PER_CLIENT=${limit}); retry when one has finished.\\n";
        }
`
      : "";
  const limitInLocation =
    limit > 0
      ? `
            # At most ${limit} requests in progress per client (429 with Retry-After beyond that).
            limit_conn per_client ${limit};`
      : "";
  const allowInLocation = allowlist
    ? `
            if ($front_client_allowed = 0) {
                return 403 "The client certificate \\"$ssl_client_s_dn\\" is valid but not allowed to send to this endpoint.\\n";
            }`
    : "";
  const limitZone =
    limit > 0
      ? `${clientKeyMap(clientAuth)}
    # Requests in progress (not idle keep-alive connections; each HTTP/2 stream counts) per client.
    limit_conn_zone ${clientAuth ? "$front_client_key" : "$binary_remote_addr"} zone=per_client:10m;
    limit_conn_status 429;
    limit_conn_log_level warn;
`
      : "";

  return `# Written by nginx/render (AUTH_MODE=${settings.authMode}, CERT_MODE=${settings.certMode}${
    certificate.selfSigned ? ", self-signed server certificate" : ""
  }).
# Re-run nginx/render instead of editing; run with:
#   nginx -p ${paths.outDir} -c ${paths.conf} -e stderr -g 'daemon off;'

worker_processes auto;
pid ${paths.pid};
error_log stderr notice;
# On SIGQUIT (what entrypoint.sh turns SIGTERM into) requests in flight get this long to
# finish before their connections are closed: SHUTDOWN_TIMEOUT_SECONDS, as for the app.
worker_shutdown_timeout ${shutdownTimeout};

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    default_type text/plain;

    client_body_temp_path ${paths.temp.clientBody};
    proxy_temp_path ${paths.temp.proxy};
    fastcgi_temp_path ${paths.temp.fastcgi};
    uwsgi_temp_path ${paths.temp.uwsgi};
    scgi_temp_path ${paths.temp.scgi};

    # UIDs, sizes and timings only; the query string is left out.
    log_format front escape=json '{"time":"$time_iso8601","remote":"$remote_addr",'
        '"method":"$request_method","uri":"$uri","status":$status,'
        '"requestBytes":$request_length,"responseBytes":$bytes_sent,'
        '"seconds":$request_time,"upstreamSeconds":"$upstream_response_time",'
        '"protocol":"$server_protocol","tls":"$ssl_protocol","clientDn":"$ssl_client_s_dn"}';
    access_log ${settings.accessLog === "off" ? "off" : `${settings.accessLog} front`};

    # Same limit as the app's MAX_REQUEST_BYTES (0 = none), checked as the body streams.
    client_max_body_size ${settings.maxRequestBytes};
    client_body_buffer_size 256k;
    # Per read/write, not per request: a multi-GiB upload may take hours as long as it keeps moving.
    # BODY_RATE_WINDOW_SECONDS, the app's window for a body's average rate: a client silent
    # for that long is cut here too, so the front never waits on a sender longer than the app.
    client_header_timeout ${window};
    client_body_timeout ${window};
    send_timeout ${window};
    keepalive_timeout 75s;
${limitZone}${allowedSubjectsMap(allowlist ? settings.allowedClientSubjects : [])}
    upstream app {
        server ${hostPort(settings.upstream)};
        keepalive 32;
        # Shorter than Node's 5 s keep-alive so nginx never reuses a socket the app is closing.
        keepalive_timeout 4s;
    }

    server {
        listen ${hostPort(settings.listen)} ssl http2;

        ssl_certificate ${paths.certificate};
        ssl_certificate_key ${paths.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ${TLS12_CIPHERS};
        ssl_prefer_server_ciphers off;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_session_cache shared:tls:10m;
        ssl_session_timeout 1h;
        ssl_session_tickets off;
${clientAuthBlock}${limitErrorPage}

        location / {${allowInLocation}${limitInLocation}

            # No URI part: the path and query reach the app exactly as the client sent them.
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Client-DN ${clientDn};
            # Authorization reaches the app as the client sent it (with AUTH_MODE=oidc the app
            # checks the bearer token); no log format here ever contains it.

            # Stream bodies both ways instead of spooling them to disk.
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_connect_timeout 10s;
            proxy_send_timeout ${timeout};
            proxy_read_timeout ${timeout};
        }
${clientAuthLocations}${limitLocation}    }

    # Plain HTTP for the load balancer's health checks.
    server {
        listen ${hostPort(settings.healthListen)};
        access_log off;

        location = /health {
            return 200 "nginx is up\\n";
        }

        location = /ready {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Client-DN "";
            proxy_connect_timeout 2s;
            proxy_send_timeout 10s;
            proxy_read_timeout 10s;
            error_page 502 504 = @app_unreachable;
        }

        # The load balancer's target check: nginx and the app both take requests. It asks the
        # app's liveness, never its readiness, so a slow S3 cannot fail every target at once.
        location = /live {
            rewrite ^ /health break;
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Client-DN "";
            proxy_connect_timeout 2s;
            proxy_send_timeout 4s;
            proxy_read_timeout 4s;
            error_page 502 504 = @app_unreachable;
        }

        location @app_unreachable {
            return 503 "The app behind nginx is not reachable.\\n";
        }

        location / {
            return 404 "Only /health, /live and /ready are served on this port.\\n";
        }
    }
}
`;
}
