# The Fledge manager: a static binary on distroless, as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY apis/ apis/
COPY analysis/ analysis/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY notifiers/ notifiers/
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /fledge-manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
COPY --from=build /fledge-manager /fledge-manager
USER 65532:65532
ENTRYPOINT ["/fledge-manager"]
