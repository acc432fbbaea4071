// Package main is k6's own main (go.k6.io/k6/v2 v2.1.0, main.go), unchanged.
package main

import "go.k6.io/k6/v2/cmd"

func main() {
	cmd.Execute()
}
