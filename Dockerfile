# syntax=docker/dockerfile:1
# folio: a static binary on distroless, non-root, with a HEALTHCHECK that needs
# no shell or curl (`folio healthcheck`). Built by CircleCI, redeployed by Watchtower.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/folio .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/folio /folio
USER nonroot:nonroot
ENV FOLIO_ADDR=:8080
EXPOSE 8080
# Watchtower stops the old container with SIGTERM; folio drains in-flight
# requests for up to 8 s, inside Docker's default 10 s stop timeout.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=3 CMD ["/folio", "healthcheck"]
LABEL org.opencontainers.image.title="folio" \
      org.opencontainers.image.description="Webhook-driven Contentful cache for a portfolio CV and blog" \
      com.centurylinklabs.watchtower.enable="true"
ENTRYPOINT ["/folio"]
CMD ["serve"]
