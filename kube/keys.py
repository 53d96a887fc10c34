"""Every key of a compose service, and what ``kube generate`` makes of it.

Three tables that together hold every field of :class:`compose.model.Service` (a unit
test holds that line, so a new compose key needs a decision here):

- ``TRANSLATED``: the key and the manifest field it becomes (the documentation, and the
  key-by-key test's index);
- ``UNTRANSLATED``: keys Kubernetes has no place for, with the reason the warning gives;
- ``NOT_RUNTIME``: keys that only steer compose itself (profiles, extends, ...), which
  have nothing to translate.
"""

from __future__ import annotations

TRANSLATED: dict[str, str] = {
    "annotations": "spec.template.metadata.annotations",
    "build": "containers[].image (the image to push; the cluster cannot build)",
    "cap_add": "containers[].securityContext.capabilities.add",
    "cap_drop": "containers[].securityContext.capabilities.drop",
    "command": "containers[].args",
    "configs": "ConfigMap + volume (configMap) + volumeMounts[].subPath",
    "cpu_shares": "containers[].resources.requests.cpu (shares / 1024)",
    "cpus": "containers[].resources.limits.cpu",
    "depends_on": "initContainers[] waiting on the dependency's Service (service_healthy)",
    "deploy": "replicas, resources, restartPolicy, annotations, DaemonSet (global), "
              "nodeSelector (placement.constraints node.labels.X==Y)",
    "dns": "spec.template.spec.dnsConfig.nameservers",
    "dns_opt": "spec.template.spec.dnsConfig.options",
    "dns_search": "spec.template.spec.dnsConfig.searches",
    "entrypoint": "containers[].command",
    "env_file": "ConfigMap per file + containers[].envFrom[].configMapRef",
    "environment": "containers[].env",
    "expose": "containers[].ports + Service (ClusterIP)",
    "extra_hosts": "spec.template.spec.hostAliases",
    "group_add": "spec.template.spec.securityContext.supplementalGroups (numeric ids)",
    "healthcheck": "containers[].readinessProbe, livenessProbe (exec), startupProbe "
                   "(start_period)",
    "hostname": "spec.template.spec.hostname",
    "image": "containers[].image",
    "labels": "spec.template.metadata.annotations",
    "mem_limit": "containers[].resources.limits.memory",
    "mem_reservation": "containers[].resources.requests.memory",
    "networks": "pod labels network.pycompose.io/NAME + NetworkPolicy per network; "
                "aliases as more Services",
    "platform": "spec.template.spec.nodeSelector kubernetes.io/os, kubernetes.io/arch",
    "ports": "containers[].ports + Service (ClusterIP; --expose nodeport|loadbalancer "
             "for published ones) + NetworkPolicy letting them in",
    "pull_policy": "containers[].imagePullPolicy",
    "read_only": "containers[].securityContext.readOnlyRootFilesystem",
    "restart": "spec.template.spec.restartPolicy (Job), Deployment pods always restart",
    "scale": "spec.replicas",
    "secrets": "Secret + volume (secret) + volumeMounts[].subPath",
    "security_opt": "containers[].securityContext.allowPrivilegeEscalation "
                    "(no-new-privileges)",
    "shm_size": "emptyDir (Memory) at /dev/shm with sizeLimit",
    "stdin_open": "containers[].stdin",
    "stop_grace_period": "spec.template.spec.terminationGracePeriodSeconds",
    "sysctls": "spec.template.spec.securityContext.sysctls",
    "tmpfs": "emptyDir (Memory) + volumeMounts",
    "tty": "containers[].tty",
    "user": "containers[].securityContext.runAsUser, runAsGroup (numeric ids)",
    "volumes": "PersistentVolumeClaim (named), emptyDir (anonymous, tmpfs) + volumeMounts",
    "working_dir": "containers[].workingDir",
}

UNTRANSLATED: dict[str, str] = {
    "blkio_config": "Kubernetes has no block I/O limits",
    "cgroup": "Kubernetes chooses the cgroup namespace",
    "cgroup_parent": "the kubelet chooses the cgroup",
    "container_name": "Kubernetes names pods itself",
    "cpu_count": "use cpus (resources.limits.cpu)",
    "cpu_percent": "use cpus (resources.limits.cpu)",
    "cpu_period": "the kubelet sets the CFS period",
    "cpu_quota": "use cpus (resources.limits.cpu)",
    "cpu_rt_period": "Kubernetes has no real-time scheduling",
    "cpu_rt_runtime": "Kubernetes has no real-time scheduling",
    "cpuset": "CPU pinning is the kubelet's CPU manager's",
    "credential_spec": "Windows only",
    "device_cgroup_rules": "devices need a device plugin",
    "devices": "host devices need a device plugin",
    "domainname": "Kubernetes sets the pod's domain",
    "external_links": "no containers outside the cluster to link",
    "gpus": "GPUs need a device plugin (resources.limits of its resource name)",
    "init": "the kubelet runs no init: use an image with one (tini)",
    "ipc": "pods have their own IPC namespace",
    "isolation": "Windows only",
    "links": "Services are found by name already",
    "logging": "the cluster collects container output",
    "mac_address": "the network plugin chooses addresses",
    "memswap_limit": "Kubernetes manages swap per node",
    "mem_swappiness": "Kubernetes manages swap per node",
    "models": "no models on Kubernetes",
    "network_mode": "pods have their own network namespace",
    "oom_kill_disable": "the kubelet decides OOM handling",
    "oom_score_adj": "the kubelet sets the OOM score from the QoS class",
    "pid": "pods have their own PID namespace",
    "pids_limit": "the kubelet sets a node-wide pids limit",
    "pre_start": "pre_start steps are not translated (write initContainers by hand)",
    "post_start": "lifecycle hooks differ (write lifecycle.postStart by hand)",
    "pre_stop": "lifecycle hooks differ (write lifecycle.preStop by hand)",
    "privileged": "Pod Security admission refuses privileged pods on most clusters "
                  "(set securityContext.privileged by hand where it is allowed)",
    "provider": "a provider service runs outside compose's engine",
    "pull_refresh_after": "the kubelet pulls by imagePullPolicy",
    "runtime": "use a RuntimeClass (runtimeClassName) by hand",
    "stop_signal": "Kubernetes always sends SIGTERM",
    "storage_opt": "Kubernetes has no per-container storage options",
    "ulimits": "Kubernetes has no per-container ulimits",
    "use_api_socket": "no Docker API in a pod",
    "userns_mode": "use hostUsers: false by hand",
    "uts": "pods have their own UTS namespace",
    "volumes_from": "share a PersistentVolumeClaim instead",
}

NOT_RUNTIME: frozenset[str] = frozenset({
    "profiles", "attach", "develop", "extends", "label_file", "extensions",
})
