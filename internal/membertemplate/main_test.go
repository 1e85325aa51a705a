package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecr-guard/ecr-guard/internal/deploy"
)

const templatePath = "../../template.yaml"

// stackSetBody is the TemplateBody the StackSet of template.yaml carries.
func stackSetBody(t *testing.T) string {
	t.Helper()
	tmpl, err := deploy.LoadTemplate(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := deploy.ResourcesOfType(tmpl, "AWS::CloudFormation::StackSet")
	if err != nil || len(sets) != 1 {
		t.Fatalf("want one StackSet, got %v (%v)", sets, err)
	}
	for _, s := range sets {
		body, ok := deploy.Properties(s)["TemplateBody"].(string)
		if !ok {
			t.Fatalf("TemplateBody is %T", deploy.Properties(s)["TemplateBody"])
		}
		return body
	}
	return ""
}

func TestWritesTheStackSetTemplate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nested", "member-template.yaml")
	var stdout bytes.Buffer
	if err := run([]string{"-t", templatePath, "-o", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("wrote %q to stdout with -o", stdout.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := stackSetBody(t); string(got) != want {
		t.Errorf("the file differs from the StackSet's TemplateBody:\n got %q\nwant %q", got, want)
	}

	member, err := deploy.ParseTemplate(got)
	if err != nil {
		t.Fatalf("the written template does not parse: %v", err)
	}
	if tr, ok := member["Transform"]; ok {
		t.Errorf("the written template has Transform %v", tr)
	}
	if v := member["AWSTemplateFormatVersion"]; v != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion is %v", v)
	}
	resources, err := deploy.Resources(member)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ForwardRule", "ForwardRole", "MemberRole"} {
		if _, ok := resources[id]; !ok {
			t.Errorf("the written template has no %s", id)
		}
	}
	// Written as-is: the StackSet's indentation is gone.
	if strings.HasPrefix(string(got), " ") || !strings.HasPrefix(string(got), "AWSTemplateFormatVersion:") {
		t.Errorf("the written template starts with %q", strings.SplitN(string(got), "\n", 2)[0])
	}

	// Again: the same bytes (make member-template is repeatable).
	if err := run([]string{"-t", templatePath, "-o", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(out)
	if !bytes.Equal(again, got) {
		t.Error("a second run wrote different bytes")
	}
}

func TestStdout(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"-t", templatePath}, &stdout); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != stackSetBody(t) {
		t.Error("stdout differs from the StackSet's TemplateBody")
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noStackSet := write("none.yaml", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
	transform := write("transform.yaml", `Resources:
  S:
    Type: AWS::CloudFormation::StackSet
    Properties:
      TemplateBody: |
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Q:
            Type: AWS::SQS::Queue
`)
	notYAML := write("bad-body.yaml", `Resources:
  S:
    Type: AWS::CloudFormation::StackSet
    Properties:
      TemplateBody: "Resources: [unclosed"
`)
	out := filepath.Join(dir, "out.yaml")
	for name, args := range map[string][]string{
		"missing template": {"-t", filepath.Join(dir, "missing.yaml"), "-o", out},
		"no StackSet":      {"-t", noStackSet, "-o", out},
		"Transform":        {"-t", transform, "-o", out},
		"body not YAML":    {"-t", notYAML, "-o", out},
		"extra argument":   {"-t", templatePath, "extra"},
		"unknown flag":     {"-x"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run wrote %s (%v)", out, err)
	}
}
