# syntax=docker/dockerfile:1
# Multi-stage build of the aidmall binary: static (no cgo: SQLite is modernc.org/sqlite),
# run as a non-root user. The build line is the one cmd/aidmall's Dockerfile test runs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/aidmall ./cmd/aidmall

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aidmall /usr/local/bin/aidmall
USER nonroot:nonroot
WORKDIR /home/nonroot
ENV AIDMALL_LISTEN=0.0.0.0:8080 AIDMALL_DATA_DIR=/home/nonroot/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aidmall"]
CMD ["serve", "--migrate"]
