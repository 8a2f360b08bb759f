// Package kubeletconfig reads a KubeletConfiguration file
// (kubelet.config.k8s.io/v1beta1, the kubelet's --config, such as kubeadm's
// /var/lib/kubelet/config.yaml) for runner's --config: strictly, with a
// file:line problem for every unknown or misspelt field and wrong value, as
// manifests are read. Settings maps each field runner implements to the
// flag that does the same; the fields it does not implement are listed for
// one warning. Pure: main applies the settings to its flags.
package kubeletconfig
