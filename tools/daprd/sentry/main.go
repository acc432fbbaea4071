/*
Copyright 2021 The Dapr Authors
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at
    http://www.apache.org/licenses/LICENSE-2.0
Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Dapr's Sentry (the certificate authority of mTLS) as github.com/dapr/dapr v1.18.3's cmd/sentry/main.go has it,
// built in the daprd wrapper module so that it takes the same module versions (and the same durabletask-go
// replacement) as daprd. scripts/setup-daprd.sh --sentry builds and caches it.
package main

import (
	"github.com/dapr/dapr/cmd/sentry/app"
)

func main() {
	app.Run()
}
