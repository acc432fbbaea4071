// Package main is kustomize's own main (sigs.k8s.io/kustomize/kustomize/v5 v5.7.1, main.go), unchanged.
package main

import (
	"os"

	"sigs.k8s.io/kustomize/kustomize/v5/commands"
)

func main() {
	if err := commands.NewDefaultCommand().Execute(); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}
