// Command membertemplate writes the member template of template.yaml's
// Scope=organization (the TemplateBody of its AWS::CloudFormation::StackSet)
// to a file, byte for byte as the StackSet carries it. Service-managed
// StackSets skip the management account; deploy the file there by hand
// (README, Deploy):
//
//	go run ./internal/membertemplate -o .build/member-template.yaml
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ecr-guard/ecr-guard/internal/deploy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "membertemplate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("membertemplate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	templatePath := fs.String("t", "template.yaml", "the SAM template whose StackSet carries the member template")
	out := fs.String("o", "-", "the file to write (its directory is created); - means standard output")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (usage: membertemplate [-t template.yaml] [-o file])", err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q (usage: membertemplate [-t template.yaml] [-o file])", fs.Args())
	}

	body, err := extract(*templatePath)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := io.WriteString(stdout, body)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(body), 0o644)
}

// extract returns the member template of the template at path, after
// checking it is a plain CloudFormation template.
func extract(path string) (string, error) {
	tmpl, err := deploy.LoadTemplate(path)
	if err != nil {
		return "", err
	}
	body, err := deploy.MemberTemplate(tmpl)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	member, err := deploy.ParseTemplate([]byte(body))
	if err != nil {
		return "", fmt.Errorf("%s: the member template: %w", path, err)
	}
	if _, ok := member["Transform"]; ok {
		return "", fmt.Errorf("%s: the member template has a Transform, which service-managed StackSets refuse", path)
	}
	if _, err := deploy.Resources(member); err != nil {
		return "", fmt.Errorf("%s: the member template: %w", path, err)
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return "", errors.New("the member template does not end with a newline")
	}
	return body, nil
}
