# The monologue gateway as a small image: one static binary on distroless,
# run as a user that is not root. No container runtime is needed to build
# the binary itself: go install github.com/monologue-go/monologue/cmd/monologue@latest.
#
#   docker build -t monologue .
#   docker run --rm -p 127.0.0.1:8080:8080 monologue serve --addr 0.0.0.0:8080 --api-key "$KEY"
#
# The management listener (dashboard, @connections, /metrics) stays on the
# container's loopback unless credentials are given, since it can read,
# post to and close every connection: to reach it from outside, add
# --admin-addr 0.0.0.0:8081 and set MONOLOGUE_ADMIN_ACCESS_KEY_ID and
# MONOLOGUE_ADMIN_SECRET_ACCESS_KEY (serve refuses to start otherwise).
# docker-compose.yml runs three nodes as a cluster.

FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/monologue ./cmd/monologue

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/monologue /usr/local/bin/monologue
USER nonroot:nonroot
WORKDIR /home/nonroot
EXPOSE 8080 8081 6222
ENTRYPOINT ["/usr/local/bin/monologue"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--admin-addr", "127.0.0.1:8081"]
