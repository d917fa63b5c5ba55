// Package deploy holds no code: its tests check folio's deployment files
// (Dockerfile, docker-compose.yml, .circleci/config.yml) with the parsers
// Docker, Compose and YAML themselves use, in a package of their own so
// those parsers never reach the folio binary.
package deploy
