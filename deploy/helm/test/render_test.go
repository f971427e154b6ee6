// Package test renders the execbox Helm chart (deploy/helm/execbox) with the
// Helm SDK for several value sets, decodes every object strictly into the
// Kubernetes API types, and checks what the chart promises: every role with
// probes through `app healthcheck`, memory limits from the budgets, hardened
// containers, the Docker socket mounted only by the guard beside each
// executor, NetworkPolicies that open only the gateway, PDBs, secrets by
// reference, external Redis and PostgreSQL by URL, optional KEDA autoscaling.
//
// It is its own Go module so that Helm and the Kubernetes API types never
// enter the execbox binary's module graph. scripts/test.sh runs it.
package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "../execbox"

// scaledObject is KEDA's ScaledObject (keda.sh/v1alpha1), the fields the
// chart sets; decoded strictly like the rest.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// rendered is one release's objects by kind.
type rendered struct {
	deployments  map[string]*appsv1.Deployment
	daemonSets   map[string]*appsv1.DaemonSet
	services     map[string]*corev1.Service
	ingresses    map[string]*networkingv1.Ingress
	pdbs         map[string]*policyv1.PodDisruptionBudget
	policies     map[string]*networkingv1.NetworkPolicy
	secrets      map[string]*corev1.Secret
	scaledObject map[string]*scaledObject
}

func render(t *testing.T, values map[string]any) rendered {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := chartutil.ToRenderValues(chrt, values, chartutil.ReleaseOptions{Name: "ex", Namespace: "execbox", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := rendered{
		deployments: map[string]*appsv1.Deployment{}, daemonSets: map[string]*appsv1.DaemonSet{},
		services: map[string]*corev1.Service{}, ingresses: map[string]*networkingv1.Ingress{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, policies: map[string]*networkingv1.NetworkPolicy{},
		secrets: map[string]*corev1.Secret{}, scaledObject: map[string]*scaledObject{},
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for i, doc := range strings.Split(files[name], "\n---") {
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
				continue
			}
			where := fmt.Sprintf("%s #%d", name, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v\n%s", where, err, doc)
			}
			decode := func(obj any, name func() string) string {
				if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
					t.Fatalf("%s: %s does not decode strictly: %v\n%s", where, tm.Kind, err, doc)
				}
				return name()
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				r.deployments[decode(o, func() string { return o.Name })] = o
			case "apps/v1 DaemonSet":
				o := &appsv1.DaemonSet{}
				r.daemonSets[decode(o, func() string { return o.Name })] = o
			case "v1 Service":
				o := &corev1.Service{}
				r.services[decode(o, func() string { return o.Name })] = o
			case "networking.k8s.io/v1 Ingress":
				o := &networkingv1.Ingress{}
				r.ingresses[decode(o, func() string { return o.Name })] = o
			case "policy/v1 PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				r.pdbs[decode(o, func() string { return o.Name })] = o
			case "networking.k8s.io/v1 NetworkPolicy":
				o := &networkingv1.NetworkPolicy{}
				r.policies[decode(o, func() string { return o.Name })] = o
			case "v1 Secret":
				o := &corev1.Secret{}
				r.secrets[decode(o, func() string { return o.Name })] = o
			case "keda.sh/v1alpha1 ScaledObject":
				o := &scaledObject{}
				r.scaledObject[decode(o, func() string { return o.Name })] = o
			default:
				t.Fatalf("%s: unexpected object %s %s", where, tm.APIVersion, tm.Kind)
			}
		}
	}
	return r
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, file))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// pod is one role's pod template, wherever it lives.
type pod struct {
	role     string
	labels   map[string]string
	spec     corev1.PodSpec
	replicas int32 // -1 for a DaemonSet
}

var roles = map[string]int32{"gateway": 8085, "queue": 8086, "worker": 8087, "storage": 8089, "executor": 8088}

func (r rendered) pods(t *testing.T) map[string]pod {
	t.Helper()
	out := map[string]pod{}
	for _, d := range r.deployments {
		role := d.Spec.Template.Labels["app.kubernetes.io/component"]
		out[role] = pod{role: role, labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, replicas: *d.Spec.Replicas}
		checkSelector(t, d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, d := range r.daemonSets {
		role := d.Spec.Template.Labels["app.kubernetes.io/component"]
		out[role] = pod{role: role, labels: d.Spec.Template.Labels, spec: d.Spec.Template.Spec, replicas: -1}
		checkSelector(t, d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	for role := range roles {
		if _, ok := out[role]; !ok {
			t.Errorf("no workload for the %s role", role)
		}
	}
	return out
}

func checkSelector(t *testing.T, name string, sel *metav1.LabelSelector, labels map[string]string) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 || !matches(sel.MatchLabels, labels) {
		t.Errorf("%s: selector %v does not select its pods %v", name, sel, labels)
	}
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func container(t *testing.T, p pod, name string) corev1.Container {
	t.Helper()
	for _, c := range p.spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s pod has no container %q", p.role, name)
	return corev1.Container{}
}

// checkRules holds for every value set.
func checkRules(t *testing.T, r rendered, values map[string]any) {
	pods := r.pods(t)
	budget := resource.MustParse("48Mi")
	for role, p := range pods {
		if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted (no role talks to the Kubernetes API)", role)
		}
		for _, c := range p.spec.Containers {
			where := role + "/" + c.Name
			// Probes through the binary (the image has no shell).
			port := roles[role]
			if c.Name == "docker-guard" {
				port = 2375
			}
			want := []string{"/app", "healthcheck", "--url", fmt.Sprintf("http://127.0.0.1:%d/", port)}
			for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if c.Name == "docker-guard" && what == "readiness" {
					continue
				}
				if pr == nil || pr.Exec == nil || len(pr.Exec.Command) != 4 || !slices.Equal(pr.Exec.Command[:3], want[:3]) || !strings.HasPrefix(pr.Exec.Command[3], want[3]) {
					t.Errorf("%s: %s probe %+v, want exec %v...", where, what, pr, want)
				}
			}
			if c.ReadinessProbe != nil && c.ReadinessProbe.Exec != nil && !strings.HasSuffix(c.ReadinessProbe.Exec.Command[3], "/ready") {
				t.Errorf("%s: readiness checks %s, want /ready", where, c.ReadinessProbe.Exec.Command[3])
			}
			// Memory from the budgets: requested and limited, at most 48Mi.
			lim, ok := c.Resources.Limits[corev1.ResourceMemory]
			if !ok || lim.Cmp(budget) > 0 {
				t.Errorf("%s: memory limit %v, want one of at most %v (20 MB peak budget plus the Go runtime)", where, lim.String(), budget.String())
			}
			if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
				t.Errorf("%s: no memory request", where)
			}
			if env(c)["GOMEMLIMIT"].Value == "" {
				t.Errorf("%s: no GOMEMLIMIT", where)
			}
			// Hardened: read-only root, no privilege escalation, no capabilities.
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 ||
				(sc.Privileged != nil && *sc.Privileged) {
				t.Errorf("%s: security context %+v, want read-only root, no escalation, every capability dropped", where, sc)
			}
			if c.Name != "docker-guard" && (sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
				t.Errorf("%s: may run as root", where)
			}
			// Secrets by reference, never as values.
			for _, name := range []string{"EXECBOX_INTERNAL_TOKEN", "PGPASSWORD", "REDIS_PASSWORD"} {
				if e, ok := env(c)[name]; ok && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s: %s is not read from a Secret", where, name)
				}
			}
			if c.Name != "docker-guard" {
				if _, ok := env(c)["EXECBOX_INTERNAL_TOKEN"]; !ok {
					t.Errorf("%s: no EXECBOX_INTERNAL_TOKEN", where)
				}
			}
			if args := c.Args; len(args) != 1 || (args[0] != role && !(c.Name == "docker-guard" && args[0] == "docker-guard")) {
				t.Errorf("%s: args %v, want the role", where, args)
			}
		}
		// Only the guard mounts the Docker socket.
		for _, v := range p.spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			if role != "executor" || !strings.HasSuffix(v.HostPath.Path, "docker.sock") {
				t.Errorf("%s: host path volume %s", role, v.HostPath.Path)
			}
			for _, c := range p.spec.Containers {
				for _, m := range c.VolumeMounts {
					if m.Name == v.Name && (c.Name != "docker-guard" || !m.ReadOnly) {
						t.Errorf("%s/%s mounts the Docker socket (only docker-guard may, read-only)", role, c.Name)
					}
				}
			}
		}
		if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
			t.Errorf("%s: shares a host namespace", role)
		}
		// A PDB covers the role.
		covered := false
		for _, pdb := range r.pdbs {
			if matches(pdb.Spec.Selector.MatchLabels, p.labels) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s: no PodDisruptionBudget selects its pods", role)
		}
	}

	// The executor reaches Docker only through the guard on its pod's loopback.
	ex := pods["executor"]
	if len(ex.spec.NodeSelector) == 0 {
		t.Error("executors run on any node: want a node selector for sandbox nodes")
	}
	exe, guard := env(container(t, ex, "executor")), env(container(t, ex, "docker-guard"))
	if h := exe["DOCKER_HOST"].Value; h != "tcp://127.0.0.1:2375" {
		t.Errorf("executor DOCKER_HOST=%q, want the guard on the pod's loopback", h)
	}
	if l := guard["EXECBOX_GUARD_LISTEN"].Value; l != "127.0.0.1:2375" {
		t.Errorf("guard listens on %q, want 127.0.0.1:2375 (the pod's loopback only)", l)
	}
	for _, k := range []string{"EXECBOX_EXECUTOR_INSTANCE", "EXECBOX_RUNTIME"} {
		if exe[k].Value != guard[k].Value || (k == "EXECBOX_EXECUTOR_INSTANCE" && exe[k].Value == "") {
			t.Errorf("%s: executor %q, guard %q: they must agree and be set", k, exe[k].Value, guard[k].Value)
		}
	}
	if _, ok := guard["EXECBOX_INTERNAL_TOKEN"]; ok {
		t.Error("the guard gets the internal token, which it does not need")
	}
	// Executors announce themselves; workers find them (no URL list).
	redisURL := values["redis"].(map[string]any)["url"].(string)
	if exe["EXECBOX_ANNOUNCE_URL"].Value != "http://$(POD_IP):8088" || exe["EXECBOX_REGISTRY_URL"].Value != "$(REDIS_URL)" || exe["REDIS_URL"].Value != redisURL {
		t.Errorf("executor announcement: url %q, registry %q (REDIS_URL %q)", exe["EXECBOX_ANNOUNCE_URL"].Value, exe["EXECBOX_REGISTRY_URL"].Value, exe["REDIS_URL"].Value)
	}
	we := env(container(t, pods["worker"], "worker"))
	if _, ok := we["EXECBOX_EXECUTOR_URLS"]; ok || we["EXECBOX_REGISTRY_URL"].Value != "$(REDIS_URL)" || we["REDIS_URL"].Value != redisURL {
		t.Errorf("worker: executors %q, registry %q; want the registry only", we["EXECBOX_EXECUTOR_URLS"].Value, we["EXECBOX_REGISTRY_URL"].Value)
	}
	// External services by URL.
	for _, role := range []string{"queue", "storage"} {
		if e := env(container(t, pods[role], role)); e["REDIS_URL"].Value != redisURL {
			t.Errorf("%s: REDIS_URL=%q, want %q", role, e["REDIS_URL"].Value, redisURL)
		}
	}
	se := env(container(t, pods["storage"], "storage"))
	if u := se["DATABASE_URL"].Value; !strings.HasPrefix(u, "postgres://") || strings.Contains(u, ":@") || strings.Count(strings.SplitN(u, "@", 2)[0], ":") > 1 {
		t.Errorf("storage DATABASE_URL=%q: want a postgres:// URL without a password", u)
	}
	ge := env(container(t, pods["gateway"], "gateway"))
	if ge["EXECBOX_QUEUE_URL"].Value != "http://ex-execbox-queue:8086" || ge["EXECBOX_STORAGE_URL"].Value != "http://ex-execbox-storage:8089" {
		t.Errorf("gateway: queue %q, storage %q", ge["EXECBOX_QUEUE_URL"].Value, ge["EXECBOX_STORAGE_URL"].Value)
	}

	// Services: only the gateway's may face outside; each selects its role.
	for name, s := range r.services {
		role := s.Labels["app.kubernetes.io/component"]
		if s.Spec.Type != corev1.ServiceTypeClusterIP && role != "gateway" {
			t.Errorf("service %s (%s) is %s: only the gateway may be exposed", name, role, s.Spec.Type)
		}
		if p, ok := pods[role]; !ok || !matches(s.Spec.Selector, p.labels) {
			t.Errorf("service %s selects %v, not the %s pods", name, s.Spec.Selector, role)
		}
	}
	for name, ing := range r.ingresses {
		for _, rule := range ing.Spec.Rules {
			for _, path := range rule.HTTP.Paths {
				if path.Backend.Service == nil || path.Backend.Service.Name != "ex-execbox-gateway" {
					t.Errorf("ingress %s routes to %+v: only the gateway may be exposed", name, path.Backend)
				}
			}
		}
	}
	checkNetworkPolicies(t, r, pods)
}

// checkNetworkPolicies: with every policy applied, who may reach each role
// on which port: the gateway from anywhere, the queue from gateway and
// worker, storage from the gateway, the executor from workers only (and
// never the guard's port), the worker from nobody.
func checkNetworkPolicies(t *testing.T, r rendered, pods map[string]pod) {
	t.Helper()
	want := map[string][]string{"gateway": {"*"}, "queue": {"gateway", "worker"}, "storage": {"gateway"}, "executor": {"worker"}, "worker": nil}
	for role, p := range pods {
		selected := false
		allowed := map[string]bool{}
		for _, np := range r.policies {
			if !matches(np.Spec.PodSelector.MatchLabels, p.labels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				continue
			}
			selected = true
			for _, rule := range np.Spec.Ingress {
				for _, port := range rule.Ports {
					if port.Port == nil || port.Port.IntVal != roles[role] {
						t.Errorf("%s: policy %s opens port %v, want only %d", role, np.Name, port.Port, roles[role])
					}
				}
				if len(rule.Ports) == 0 {
					t.Errorf("%s: policy %s opens every port", role, np.Name)
				}
				if len(rule.From) == 0 {
					allowed["*"] = true
				}
				for _, peer := range rule.From {
					if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
						allowed["*"] = true // wider than this release
						continue
					}
					for other, op := range pods {
						if matches(peer.PodSelector.MatchLabels, op.labels) {
							allowed[other] = true
						}
					}
				}
			}
		}
		if !selected {
			t.Errorf("%s: no NetworkPolicy selects it (all traffic allowed)", role)
			continue
		}
		var got []string
		for k := range allowed {
			got = append(got, k)
		}
		sort.Strings(got)
		if !slices.Equal(got, want[role]) {
			t.Errorf("%s reachable from %v, want %v", role, got, want[role])
		}
	}
}

func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	values := readValues(t, "values.yaml")
	r := render(t, nil)
	checkRules(t, r, values)
	if len(r.secrets) != 0 {
		t.Errorf("default values render Secrets %v: no password may ship with the chart", keys(r.secrets))
	}
	if len(r.daemonSets) != 1 {
		t.Errorf("executors: %d DaemonSets, want the executor DaemonSet", len(r.daemonSets))
	}
	if len(r.ingresses) != 0 || len(r.scaledObject) != 0 {
		t.Errorf("defaults render ingresses %v and scaled objects %v; both are opt-in", keys(r.ingresses), keys(r.scaledObject))
	}
}

func TestRenderHA(t *testing.T) {
	t.Parallel()
	values := readValues(t, "values-ha.yaml")
	r := render(t, values)
	merged := readValues(t, "values.yaml")
	merged["redis"] = values["redis"]
	checkRules(t, r, merged)
	if !strings.HasPrefix(values["redis"].(map[string]any)["url"].(string), "redis+sentinel://") {
		t.Error("the HA values do not use Sentinel")
	}
	if n := *r.deployments["ex-execbox-gateway"].Spec.Replicas; n < 2 {
		t.Errorf("gateway replicas %d, want 2 or more", n)
	}
	if qe := env(r.deployments["ex-execbox-queue"].Spec.Template.Spec.Containers[0]); qe["EXECBOX_REDIS_WAIT_REPLICAS"].Value != "1" {
		t.Errorf("queue EXECBOX_REDIS_WAIT_REPLICAS=%q, want 1", qe["EXECBOX_REDIS_WAIT_REPLICAS"].Value)
	}
	if len(r.ingresses) != 1 {
		t.Errorf("ingresses %v, want the gateway's", keys(r.ingresses))
	}
	for _, role := range []string{"worker", "executor"} {
		so := r.scaledObject["ex-execbox-"+role]
		if so == nil {
			t.Errorf("no ScaledObject for the %ss", role)
			continue
		}
		target := so.Spec.ScaleTargetRef
		if target.Kind != "Deployment" || r.deployments[target.Name] == nil || r.deployments[target.Name].Spec.Template.Labels["app.kubernetes.io/component"] != role {
			t.Errorf("%s ScaledObject targets %+v, not the %s Deployment", role, target, role)
		}
		if so.Spec.MinReplicaCount < 1 || so.Spec.MaxReplicaCount <= so.Spec.MinReplicaCount {
			t.Errorf("%s ScaledObject replicas %d..%d", role, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
		}
		var streams []string
		for _, tr := range so.Spec.Triggers {
			m := tr.Metadata
			if tr.Type != "redis-sentinel-streams" || m["consumerGroup"] != "workers" || m["lagCount"] == "" ||
				m["sentinelMaster"] != "execbox" || strings.Contains(m["addresses"], "@") || !strings.Contains(m["addresses"], ",") || m["passwordFromEnv"] != "REDIS_PASSWORD" {
				t.Errorf("%s trigger %s %v", role, tr.Type, m)
			}
			streams = append(streams, m["stream"])
		}
		if !slices.Equal(streams, []string{"execbox:s:high", "execbox:s:normal", "execbox:s:low"}) {
			t.Errorf("%s triggers watch %v, want the queue's three priority streams", role, streams)
		}
	}
}

// Secrets are created only when asked, and then only with every value:
// there is no default password.
func TestRenderSecrets(t *testing.T) {
	t.Parallel()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		secrets map[string]any
		ok      bool
	}{
		{map[string]any{"create": true}, false},
		{map[string]any{"create": true, "internalToken": "t"}, false},
		{map[string]any{"create": true, "postgresPassword": "p"}, false},
		{map[string]any{"create": true, "internalToken": "t", "postgresPassword": "p"}, true},
	} {
		vals, err := chartutil.ToRenderValues(chrt, map[string]any{"secrets": tc.secrets}, chartutil.ReleaseOptions{Name: "ex", Namespace: "execbox"}, chartutil.DefaultCapabilities)
		if err != nil {
			t.Fatal(err)
		}
		_, err = engine.Render(chrt, vals)
		if (err == nil) != tc.ok {
			t.Errorf("secrets %v: render error %v, want ok=%v", tc.secrets, err, tc.ok)
		}
	}
	r := render(t, map[string]any{"secrets": map[string]any{"create": true, "internalToken": "t", "postgresPassword": "p"}})
	s := r.secrets["ex-execbox"]
	if s == nil || s.StringData["internal-token"] != "t" || s.StringData["postgres-password"] != "p" {
		t.Fatalf("secret %+v", s)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
