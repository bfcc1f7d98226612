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

/**
 * @param {import("./settings.js").Settings} settings
 * @param {ReturnType<typeof import("./layout.js").layout>} paths
 * @param {{ selfSigned: boolean }} certificate
 */
export function renderNginxConf(settings, paths, certificate) {
  const clientAuth = settings.clientCertificates;
  const timeout = `${settings.upstreamTimeoutSeconds}s`;

  // An empty value makes nginx drop the header, so in anonymous mode a
  // client-sent X-Client-DN never reaches the app either.
  const clientDn = clientAuth ? "$ssl_client_s_dn" : '""';

  const clientAuthBlock = clientAuth
    ? `
        ssl_client_certificate ${paths.truststore};
        ssl_verify_client on;
        ssl_verify_depth 4;
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

  return `# Written by nginx/render (AUTH_MODE=${settings.authMode}, CERT_MODE=${settings.certMode}${
    certificate.selfSigned ? ", self-signed server certificate" : ""
  }).
# Re-run nginx/render instead of editing; run with:
#   nginx -p ${paths.outDir} -c ${paths.conf} -e stderr -g 'daemon off;'

worker_processes auto;
pid ${paths.pid};
error_log stderr notice;

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
    client_header_timeout 60s;
    client_body_timeout 300s;
    send_timeout 300s;
    keepalive_timeout 75s;

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
${clientAuthBlock}
        location / {
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
${clientAuthLocations}    }

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
