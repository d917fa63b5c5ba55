package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"go.yaml.in/yaml/v3"
)

// folioDrain is serve.go's shutdownGrace: how long folio finishes in-flight
// requests after SIGTERM. Every stop timeout must leave it room.
const folioDrain = 8 * time.Second

// healthTimeout is healthcheck.go's: `folio healthcheck` gives up after it,
// inside the timeout Docker gives the check.
const healthTimeout = 3 * time.Second

// The image CircleCI pushes and Watchtower follows, as the tests load the
// compose file with it.
const testImage = "registry.example/folio"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goMinor is go.mod's Go version as major.minor ("1.26"), the tag of the
// Go images the Dockerfile and CircleCI build with.
func goMinor(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(read(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// stages parses the Dockerfile with BuildKit's own parser and returns
// every stage, the last being the image.
func stages(t *testing.T) ([]instructions.Stage, *parser.Result) {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(read(t, "Dockerfile")))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(st))
	}
	return st, res
}

// shellLess are base images without a shell: an attacker in the container
// has no sh, and a shell-form instruction cannot run by mistake. distroless'
// :debug tags carry busybox and are not among them.
func shellLess(base string) bool {
	if base == "scratch" {
		return true
	}
	name, tag, _ := strings.Cut(base, ":")
	return (name == "gcr.io/distroless/static-debian12" || name == "gcr.io/distroless/static-debian13" ||
		name == "gcr.io/distroless/static") && !strings.Contains(tag, "debug")
}

func TestDockerfileFinalStage(t *testing.T) {
	st, res := stages(t)
	final := st[len(st)-1]
	if !shellLess(final.BaseName) {
		t.Errorf("final stage FROM %s: want scratch or distroless static (no shell)", final.BaseName)
	}
	var user string
	var health []string
	var entrypoint, cmd []string
	labels := map[string]string{}
	copied := false
	stopSignal := ""
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.RunCommand:
			t.Errorf("final stage: %s: no RUN can follow the last FROM (the image has no shell)", c)
		case *instructions.ShellCommand, *instructions.OnbuildCommand:
			t.Errorf("final stage: %s: no shell instruction in a shell-less image", c)
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = c.Health.Test
			if c.Health.Timeout <= healthTimeout {
				t.Errorf("HEALTHCHECK --timeout=%v: want more than folio healthcheck's own %v", c.Health.Timeout, healthTimeout)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("ENTRYPOINT in shell form needs /bin/sh: %s", c)
			}
			entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			if c.PrependShell {
				t.Errorf("CMD in shell form needs /bin/sh: %s", c)
			}
			cmd = c.CmdLine
		case *instructions.CopyCommand:
			if c.From == st[0].Name && c.DestPath == "/folio" {
				copied = true
			}
		case *instructions.LabelCommand:
			// Quotes are removed as the builder does, by its shell lexer.
			lex := shell.NewLex(res.EscapeToken)
			if err := c.Expand(func(w string) (string, error) {
				v, _, err := lex.ProcessWord(w, shell.EnvsFromSlice(nil))
				return v, err
			}); err != nil {
				t.Fatal(err)
			}
			for _, kv := range c.Labels {
				labels[kv.Key] = kv.Value
			}
		case *instructions.StopSignalCommand:
			stopSignal = c.Signal
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER %q: want a non-root user", user)
	}
	// HEALTHCHECK CMD ["/folio", "healthcheck"]: Docker stores exec form as
	// CMD, shell form as CMD-SHELL (which would need /bin/sh).
	if !slices.Equal(health, []string{"CMD", "/folio", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q: want exec form running the binary: CMD [\"/folio\", \"healthcheck\"]", health)
	}
	if !slices.Equal(entrypoint, []string{"/folio"}) || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %q CMD %q: want [\"/folio\"] [\"serve\"]", entrypoint, cmd)
	}
	if !copied {
		t.Errorf("final stage copies no /folio from the build stage %q", st[0].Name)
	}
	if labels["com.centurylinklabs.watchtower.enable"] != "true" {
		t.Errorf("image label com.centurylinklabs.watchtower.enable = %q, want \"true\"", labels["com.centurylinklabs.watchtower.enable"])
	}
	if stopSignal != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q: folio drains on SIGTERM", stopSignal)
	}
}

func TestDockerfileBuildStage(t *testing.T) {
	st, _ := stages(t)
	build := st[0]
	if want := "golang:" + goMinor(t); !strings.HasPrefix(build.BaseName, want) {
		t.Errorf("build stage FROM %s: want %s (go.mod's Go)", build.BaseName, want)
	}
	static := false
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			line := strings.Join(r.CmdLine, " ")
			if strings.Contains(line, "go build") && strings.Contains(line, "CGO_ENABLED=0") {
				static = true
			}
		}
	}
	if !static {
		t.Error("no RUN CGO_ENABLED=0 go build: the binary must be static for a distroless static or scratch base")
	}
}

// project loads docker-compose.yml with compose-go, as `docker compose`
// does, with the given profiles active.
func project(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: types.Mapping{"FOLIO_IMAGE": testImage, "CONTENTFUL_SPACE_ID": "space"},
	}, func(o *loader.Options) {
		o.SetProjectName("folio", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// folios are the services running folio's image.
func folios(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	}) {
		if s := p.Services[name]; s.Image == testImage+":latest" {
			out = append(out, s)
		}
	}
	return out
}

func TestComposeNeedsItsSettings(t *testing.T) {
	dir, _ := filepath.Abs("..")
	_, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("folio", true) })
	if err == nil || !strings.Contains(err.Error(), "FOLIO_IMAGE") {
		t.Errorf("loading without FOLIO_IMAGE: %v, want an error naming it", err)
	}
}

// secretVars are the settings README's Configuration table marks 🔒 (the
// table config/readme_test.go holds to the code).
func secretVars(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` 🔒").FindAllSubmatch(read(t, "README.md"), -1) {
		out = append(out, string(m[1]))
	}
	if len(out) == 0 {
		t.Fatal("README's Configuration table marks no secret")
	}
	return out
}

func TestComposeFolio(t *testing.T) {
	p := project(t)
	fs := folios(p)
	if len(fs) != 1 || fs[0].Name != "folio" {
		t.Fatalf("without profiles, folio services %v: want one, folio", names(fs))
	}
	for _, s := range folios(project(t, "replicas")) {
		checkFolio(t, p, s)
	}
}

func checkFolio(t *testing.T, p *types.Project, s types.ServiceConfig) {
	t.Helper()
	if s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test, []string{"CMD", "/folio", "healthcheck"}) {
		t.Errorf("%s: healthcheck %v: want [CMD /folio healthcheck] (no shell in the image)", s.Name, s.HealthCheck)
	} else if s.HealthCheck.Timeout == nil || time.Duration(*s.HealthCheck.Timeout) <= healthTimeout {
		t.Errorf("%s: healthcheck timeout %v: want more than folio healthcheck's own %v", s.Name, s.HealthCheck.Timeout, healthTimeout)
	}
	if s.Labels["com.centurylinklabs.watchtower.enable"] != "true" {
		t.Errorf("%s: not labelled for Watchtower", s.Name)
	}
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= folioDrain {
		t.Errorf("%s: stop_grace_period %v: want more than folio's %v drain", s.Name, s.StopGracePeriod, folioDrain)
	}
	if s.StopSignal != "" && s.StopSignal != "SIGTERM" {
		t.Errorf("%s: stop_signal %s: folio drains on SIGTERM", s.Name, s.StopSignal)
	}
	env := s.Environment
	if v := env["FOLIO_ADDR"]; v == nil || *v != ":8080" {
		t.Errorf("%s: FOLIO_ADDR %v: want :8080, the port the proxy and the published port name", s.Name, v)
	}
	// Secrets: only through NAME_FILE, naming a compose secret mounted where
	// the variable says, held in a file under ./secrets/.
	mounted := map[string]string{}
	for _, sec := range s.Secrets {
		target := sec.Target
		if target == "" {
			target = sec.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		mounted[target] = sec.Source
	}
	for _, name := range secretVars(t) {
		if _, plain := env[name]; plain {
			t.Errorf("%s: %s is set in the environment; secrets go through %s_FILE", s.Name, name, name)
		}
		path := env[name+"_FILE"]
		if path == nil {
			if name == "CONTENTFUL_ACCESS_TOKEN" || name == "REDIS_URL" {
				t.Errorf("%s: %s_FILE unset: the stack needs it", s.Name, name)
			}
			continue
		}
		src, ok := mounted[*path]
		if !ok {
			t.Errorf("%s: %s_FILE=%s names no secret mounted in the service", s.Name, name, *path)
			continue
		}
		if f := p.Secrets[src].File; !strings.HasPrefix(f, filepath.Join(p.WorkingDir, "secrets")+string(filepath.Separator)) {
			t.Errorf("secret %s: file %q, want one under ./secrets/", src, f)
		}
	}
	if dep, ok := s.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("%s: depends_on redis %+v: want condition service_healthy", s.Name, dep)
	}
}

// TestComposeSecretsStayLocal: the secret files (and .env) beside the
// compose file are ignored by git (asked through git itself) and left out of
// a docker build's context (.dockerignore, read with Docker's own matcher).
func TestComposeSecretsStayLocal(t *testing.T) {
	p := project(t)
	paths := []string{".env"}
	for _, sec := range p.Secrets {
		rel, err := filepath.Rel(p.WorkingDir, sec.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("secret file %s outside the repository", sec.File)
		}
		paths = append(paths, filepath.ToSlash(rel))
	}
	f, err := os.Open(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if ignored, err := pm.MatchesOrParentMatches(path); err != nil || !ignored {
			t.Errorf(".dockerignore does not leave out %s (%v)", path, err)
		}
		cmd := exec.Command("git", "check-ignore", "--no-index", "-q", path)
		cmd.Dir = p.WorkingDir
		if err := cmd.Run(); err != nil {
			t.Errorf(".gitignore does not ignore %s (git check-ignore: %v)", path, err)
		}
	}
}

func names(ss []types.ServiceConfig) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestComposeWatchtowerScope(t *testing.T) {
	for _, profiles := range [][]string{nil, {"replicas"}} {
		p := project(t, profiles...)
		for name, s := range p.Services {
			isFolio := s.Image == testImage+":latest"
			if enabled := s.Labels["com.centurylinklabs.watchtower.enable"] == "true"; enabled != isFolio {
				t.Errorf("profiles %v: %s: watchtower.enable=%t, want %t: Watchtower replaces folio only", profiles, name, enabled, isFolio)
			}
		}
		w, ok := p.Services["watchtower"]
		if !ok {
			t.Fatalf("profiles %v: no watchtower service", profiles)
		}
		if !strings.HasPrefix(w.Image, "containrrr/watchtower:") || strings.HasSuffix(w.Image, ":latest") {
			t.Errorf("watchtower image %s: want a pinned containrrr/watchtower", w.Image)
		}
		env := func(k string) string {
			if v := w.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		for _, k := range []string{"WATCHTOWER_LABEL_ENABLE", "WATCHTOWER_CLEANUP", "WATCHTOWER_ROLLING_RESTART"} {
			if env(k) != "true" {
				t.Errorf("watchtower %s=%q, want true", k, env(k))
			}
		}
		if n, err := strconv.Atoi(env("WATCHTOWER_POLL_INTERVAL")); err != nil || n <= 0 {
			t.Errorf("watchtower WATCHTOWER_POLL_INTERVAL=%q, want seconds", env("WATCHTOWER_POLL_INTERVAL"))
		}
		if d, err := time.ParseDuration(env("WATCHTOWER_TIMEOUT")); err != nil || d <= folioDrain {
			t.Errorf("watchtower WATCHTOWER_TIMEOUT=%q: want more than folio's %v drain", env("WATCHTOWER_TIMEOUT"), folioDrain)
		}
		if !slices.ContainsFunc(w.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == "/var/run/docker.sock" && v.Target == "/var/run/docker.sock"
		}) {
			t.Error("watchtower has no /var/run/docker.sock")
		}
	}
}

func TestComposeRedisPersists(t *testing.T) {
	p := project(t)
	r, ok := p.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	cmd := strings.Join(r.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q: want --appendonly yes (AOF)", cmd)
	}
	if !strings.Contains(cmd, "--maxmemory-policy noeviction") {
		t.Errorf("redis command %q: want --maxmemory-policy noeviction (an evicted blob breaks a stored snapshot)", cmd)
	}
	data := slices.IndexFunc(r.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == "/data" })
	if data < 0 || r.Volumes[data].Type != types.VolumeTypeVolume {
		t.Fatalf("redis volumes %+v: want a named volume at /data", r.Volumes)
	}
	if _, ok := p.Volumes[r.Volumes[data].Source]; !ok {
		t.Errorf("redis volume %q is not declared", r.Volumes[data].Source)
	}
	if r.HealthCheck == nil || len(r.HealthCheck.Test) == 0 {
		t.Error("redis has no healthcheck (folio waits for service_healthy)")
	}
	if len(r.Ports) != 0 {
		t.Errorf("redis publishes %v: only folio needs it", r.Ports)
	}
}

func TestComposeReplicasProfile(t *testing.T) {
	plain := project(t)
	for _, n := range []string{"folio-2", "proxy"} {
		if _, on := plain.Services[n]; on {
			t.Errorf("%s runs without the replicas profile", n)
		}
		if _, off := plain.DisabledServices[n]; !off {
			t.Errorf("%s is not a service of the replicas profile", n)
		}
	}
	p := project(t, "replicas")
	fs := folios(p)
	if len(fs) != 2 {
		t.Fatalf("replicas profile: folio services %v, want two", names(fs))
	}
	proxy, ok := p.Services["proxy"]
	if !ok {
		t.Fatal("replicas profile: no proxy")
	}
	if !strings.HasPrefix(proxy.Image, "caddy:") || len(proxy.Ports) == 0 {
		t.Errorf("proxy %s ports %v: want caddy, published", proxy.Image, proxy.Ports)
	}
	if len(proxy.Configs) != 1 || proxy.Configs[0].Target != "/etc/caddy/Caddyfile" {
		t.Fatalf("proxy configs %+v: want its Caddyfile", proxy.Configs)
	}
	caddyfile := p.Configs[proxy.Configs[0].Source].Content
	fields := strings.Fields(caddyfile)
	for _, f := range fs {
		if !slices.Contains(fields, f.Name+":8080") {
			t.Errorf("Caddyfile sends nothing to %s:8080:\n%s", f.Name, caddyfile)
		}
		if !slices.Contains(proxy.GetDependencies(), f.Name) {
			t.Errorf("proxy does not depend on %s", f.Name)
		}
	}
	// Health-based upstreams: readiness (503 while loading), and retries
	// of a refused connection on the other replica while one restarts.
	for _, directive := range [][]string{{"health_uri", "/readyz"}, {"lb_try_duration"}} {
		i := slices.Index(fields, directive[0])
		if i < 0 || (len(directive) > 1 && fields[i+1] != directive[1]) {
			t.Errorf("Caddyfile lacks %s:\n%s", strings.Join(directive, " "), caddyfile)
		}
	}
}

// circleci is the part of .circleci/config.yml the tests read.
type circleci struct {
	Version any `yaml:"version"`
	Jobs    map[string]struct {
		Docker []struct {
			Image string `yaml:"image"`
		} `yaml:"docker"`
		Steps []any `yaml:"steps"`
	} `yaml:"jobs"`
	Workflows map[string]struct {
		Jobs []any `yaml:"jobs"`
	} `yaml:"workflows"`
}

// runCommands are a job's run steps: `- run: cmd` or `- run: {command: cmd}`.
func runCommands(steps []any) (cmds []string, names []string) {
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			names = append(names, s)
		case map[string]any:
			for k, v := range s {
				names = append(names, k)
				if k != "run" {
					continue
				}
				switch v := v.(type) {
				case string:
					cmds = append(cmds, v)
				case map[string]any:
					c, _ := v["command"].(string)
					cmds = append(cmds, c)
				}
			}
		}
	}
	return cmds, names
}

func TestCircleCI(t *testing.T) {
	var c circleci
	if err := yaml.Unmarshal(read(t, ".circleci/config.yml"), &c); err != nil {
		t.Fatal(err)
	}
	if v := yamlString(c.Version); v != "2.1" {
		t.Errorf("version %v, want 2.1", c.Version)
	}
	test, ok := c.Jobs["test"]
	if !ok {
		t.Fatal("no test job")
	}
	// Debian's, for apt-get's Chromium: Ubuntu's (cimg/go) is a snap stub.
	if want := "golang:" + goMinor(t) + "-bookworm"; len(test.Docker) == 0 || test.Docker[0].Image != want {
		t.Errorf("test job image %+v: want %s (go.mod's Go on Debian, whose chromium package is a browser)", test.Docker, want)
	}
	cmds, _ := runCommands(test.Steps)
	if !slices.ContainsFunc(cmds, func(c string) bool { return strings.TrimSpace(c) == "make test" }) {
		t.Errorf("test job runs %q: want make test", cmds)
	}

	image, ok := c.Jobs["image"]
	if !ok {
		t.Fatal("no image job")
	}
	cmds, steps := runCommands(image.Steps)
	if !slices.Contains(steps, "setup_remote_docker") || !slices.Contains(steps, "checkout") {
		t.Errorf("image job steps %v: want checkout and setup_remote_docker", steps)
	}
	script := strings.Join(cmds, "\n")
	for _, want := range []string{"docker build", `-t "$IMAGE:latest"`, `docker push "$IMAGE:latest"`, `docker push "$IMAGE:${CIRCLE_SHA1:0:7}"`} {
		if !strings.Contains(script, want) {
			t.Errorf("image job does not %s (Watchtower follows :latest; :<sha> is for rollbacks):\n%s", want, script)
		}
	}

	if len(c.Workflows) != 1 {
		t.Fatalf("workflows %v: want one", c.Workflows)
	}
	for name, w := range c.Workflows {
		jobs := map[string]map[string]any{}
		for _, j := range w.Jobs {
			switch j := j.(type) {
			case string:
				jobs[j] = nil
			case map[string]any:
				for k, v := range j {
					cfg, _ := v.(map[string]any)
					jobs[k] = cfg
				}
			}
		}
		if cfg, ok := jobs["test"]; !ok || cfg["filters"] != nil {
			t.Errorf("workflow %s: test %v: want it on every branch", name, cfg)
		}
		img, ok := jobs["image"]
		if !ok {
			t.Fatalf("workflow %s has no image job", name)
		}
		if req := yamlStrings(img["requires"]); !slices.Equal(req, []string{"test"}) {
			t.Errorf("workflow %s: image requires %v, want [test]", name, req)
		}
		filters, _ := img["filters"].(map[string]any)
		branches, _ := filters["branches"].(map[string]any)
		if only := yamlStrings(branches["only"]); !slices.Equal(only, []string{"main"}) || branches["ignore"] != nil {
			t.Errorf("workflow %s: image runs on branches %v: want main only", name, branches)
		}
	}
}

func yamlString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

// yamlStrings reads a YAML scalar or list of scalars.
func yamlStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, yamlString(e))
		}
		return out
	}
	return nil
}
