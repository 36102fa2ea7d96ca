# Build stage: cgo is needed for the SQLite driver.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/acmegate ./cmd/acmegate

# Runtime stage: a small Debian image with a non-root user and a data volume.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --home-dir /var/lib/acmegate acmegate \
	&& mkdir -p /var/lib/acmegate && chown acmegate /var/lib/acmegate
COPY --from=build /out/acmegate /usr/local/bin/acmegate
USER acmegate
VOLUME ["/var/lib/acmegate"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=3s \
	CMD curl -fsk https://127.0.0.1:8443/healthz || exit 1
ENTRYPOINT ["acmegate"]
CMD ["serve", "--data", "/var/lib/acmegate", "--listen", "0.0.0.0:8443"]
