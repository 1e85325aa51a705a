package testenv

// moto 5.2.1 has no repository creation template API. This file serves that
// API, and only it: CreateRepositoryCreationTemplate,
// UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate and
// DescribeRepositoryCreationTemplates, in ECR's real wire format (JSON 1.1:
// POST with X-Amz-Target AmazonEC2ContainerRegistry_V20150921.<Operation>,
// answers and errors {"__type": code, "message": ...} as
// application/x-amz-json-1.1). The Proxy sends those four operations here and
// everything else to moto, so an SDK pointed at the proxy sees one ECR.
//
// Members, limits and error codes follow ECR's API reference
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepositoryCreationTemplate.html
// and its Update, Delete and Describe pages) and the API model the SDKs are
// generated from. Where it says nothing, the fake does the strictest
// plausible thing and says so below.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ecrContentType is the content type of ECR's protocol, AWS JSON 1.1.
const ecrContentType = "application/x-amz-json-1.1"

// templateOperations are the ECR operations the proxy answers with the fake.
var templateOperations = map[string]bool{
	"CreateRepositoryCreationTemplate":    true,
	"UpdateRepositoryCreationTemplate":    true,
	"DeleteRepositoryCreationTemplate":    true,
	"DescribeRepositoryCreationTemplates": true,
}

// templates is the fake: the templates of every account and region that
// called one Proxy. State is the proxy's, so tests sharing a moto server but
// not a proxy do not see each other's templates (ROOT is one per registry).
type templates struct {
	sts *sts.Client // moto's, to find the account of an access key

	mu         sync.Mutex
	accounts   map[string]string // access key id -> account
	registries map[registry]map[string]*storedTemplate
}

// registry is where a template lives: ECR keeps them per account and region.
type registry struct{ account, region string }

func newTemplates(motoURL string) *templates {
	return &templates{
		sts:        sts.New(sts.Options{BaseEndpoint: aws.String(motoURL)}),
		accounts:   map[string]string{},
		registries: map[registry]map[string]*storedTemplate{},
	}
}

// templateMembers are the members a request sets, as on the wire; nil means
// the request left the member out.
type templateMembers struct {
	AppliedFor                         []string                 `json:"appliedFor,omitempty"`
	CustomRoleArn                      *string                  `json:"customRoleArn,omitempty"`
	Description                        *string                  `json:"description,omitempty"`
	EncryptionConfiguration            *encryptionConfiguration `json:"encryptionConfiguration,omitempty"`
	ImageTagMutability                 *string                  `json:"imageTagMutability,omitempty"`
	ImageTagMutabilityExclusionFilters []exclusionFilter        `json:"imageTagMutabilityExclusionFilters,omitempty"`
	LifecyclePolicy                    *string                  `json:"lifecyclePolicy,omitempty"`
	RepositoryPolicy                   *string                  `json:"repositoryPolicy,omitempty"`
	ResourceTags                       []resourceTag            `json:"resourceTags,omitempty"`
}

type encryptionConfiguration struct {
	EncryptionType *string `json:"encryptionType"`
	KmsKey         *string `json:"kmsKey,omitempty"`
}

type exclusionFilter struct {
	Filter     *string `json:"filter"`
	FilterType *string `json:"filterType"`
}

// resourceTag is ECR's Tag, whose members alone are capitalized on the wire.
type resourceTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type storedTemplate struct {
	Prefix string `json:"prefix"`
	templateMembers
	CreatedAt float64 `json:"createdAt"` // epoch seconds, as JSON 1.1 sends timestamps
	UpdatedAt float64 `json:"updatedAt"`
}

type templateRequest struct {
	Prefix *string `json:"prefix"`
	templateMembers
}

type describeTemplatesRequest struct {
	Prefixes   []string `json:"prefixes"`
	MaxResults *int     `json:"maxResults"`
	NextToken  *string  `json:"nextToken"`
}

// apiError is an ECR error as the wire carries it.
type apiError struct {
	status  int
	code    string
	message string
}

// invalid is ECR's InvalidParameterException in the wording ECR uses for
// repositories (and moto copies): "Invalid parameter at 'member' failed to
// satisfy constraint: '...'". Which of InvalidParameterException and
// ValidationException (both in the operations' error lists) ECR sends for a
// given template member is not documented; callers treat both as permanent.
func invalid(member, constraint string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterException",
		fmt.Sprintf("Invalid parameter at '%s' failed to satisfy constraint: '%s'", member, constraint)}
}

func (t *templates) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reg, apiErr := t.registryOf(r)
	if apiErr != nil {
		writeJSONError(w, ecrContentType, apiErr.status, apiErr.code, apiErr.message)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSONError(w, ecrContentType, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	target := r.Header.Get("X-Amz-Target")
	var out any
	switch target[strings.LastIndex(target, ".")+1:] {
	case "CreateRepositoryCreationTemplate":
		out, apiErr = t.create(reg, body)
	case "UpdateRepositoryCreationTemplate":
		out, apiErr = t.update(reg, body)
	case "DeleteRepositoryCreationTemplate":
		out, apiErr = t.delete(reg, body)
	case "DescribeRepositoryCreationTemplates":
		out, apiErr = t.describe(reg, body)
	default:
		apiErr = &apiError{http.StatusBadRequest, "UnknownOperationException", "not a repository creation template operation: " + target}
	}
	if apiErr != nil {
		writeJSONError(w, ecrContentType, apiErr.status, apiErr.code, apiErr.message)
		return
	}
	w.Header().Set("Content-Type", ecrContentType)
	_ = json.NewEncoder(w).Encode(out)
}

var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/[^/]*/([^/]+)/`)

// registryOf finds the caller's account and region: the region from the
// SigV4 credential scope, the account by asking moto's STS GetCallerIdentity
// with the caller's access key (and session token), which names the account
// of moto's default credentials and of those Moto.AccountConfig got from
// AssumeRole alike. moto does not check signatures, so the fake signs with a
// placeholder secret: it never sees the caller's.
func (t *templates) registryOf(r *http.Request) (registry, *apiError) {
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return registry{}, &apiError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	keyID, region := m[1], m[2]
	t.mu.Lock()
	account, known := t.accounts[keyID]
	t.mu.Unlock()
	if known {
		return registry{account, region}, nil
	}
	out, err := t.sts.GetCallerIdentity(r.Context(), &sts.GetCallerIdentityInput{}, func(o *sts.Options) {
		o.Region = region
		o.Credentials = credentials.NewStaticCredentialsProvider(keyID, "testenv-unchecked", r.Header.Get("X-Amz-Security-Token"))
	})
	if err != nil {
		return registry{}, &apiError{http.StatusInternalServerError, "ServerException", "testenv: the account of access key " + keyID + ": " + err.Error()}
	}
	account = aws.ToString(out.Account)
	t.mu.Lock()
	t.accounts[keyID] = account
	t.mu.Unlock()
	return registry{account, region}, nil
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return nil
}

// decodeTemplateRequest decodes a create, update or delete request and
// checks its prefix, which all three require.
func decodeTemplateRequest(body []byte) (templateRequest, *apiError) {
	var req templateRequest
	if err := decode(body, &req); err != nil {
		return req, err
	}
	return req, checkPrefix(req.Prefix)
}

func (t *templates) create(reg registry, body []byte) (any, *apiError) {
	req, err := decodeTemplateRequest(body)
	if err != nil {
		return nil, err
	}
	if req.AppliedFor == nil {
		return nil, invalid("appliedFor", "Member must not be null")
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.registries[reg] == nil {
		t.registries[reg] = map[string]*storedTemplate{}
	}
	if _, ok := t.registries[reg][*req.Prefix]; ok {
		return nil, &apiError{http.StatusBadRequest, "TemplateAlreadyExistsException",
			fmt.Sprintf("Repository creation template with prefix '%s' already exists in the registry with id '%s'", *req.Prefix, reg.account)}
	}
	now := epochSeconds(time.Now())
	stored := &storedTemplate{Prefix: *req.Prefix, templateMembers: req.withDefaults(), CreatedAt: now, UpdatedAt: now}
	t.registries[reg][stored.Prefix] = stored
	return templateResponse(reg, stored), nil
}

// update replaces the template's members with the request's. ECR documents
// only that an omitted imageTagMutability means MUTABLE; what it does with
// the other members a request leaves out is not documented, so the fake takes
// the strictest reading: a member left out is gone (appliedFor included).
// A caller that means to keep a member must send it.
func (t *templates) update(reg registry, body []byte) (any, *apiError) {
	req, err := decodeTemplateRequest(body)
	if err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, ok := t.registries[reg][*req.Prefix]
	if !ok {
		return nil, templateNotFound(reg, *req.Prefix)
	}
	stored.templateMembers = req.withDefaults()
	stored.UpdatedAt = epochSeconds(time.Now())
	return templateResponse(reg, stored), nil
}

func (t *templates) delete(reg registry, body []byte) (any, *apiError) {
	req, err := decodeTemplateRequest(body)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stored, ok := t.registries[reg][*req.Prefix]
	if !ok {
		return nil, templateNotFound(reg, *req.Prefix)
	}
	delete(t.registries[reg], *req.Prefix)
	return templateResponse(reg, stored), nil
}

// describe lists the templates by prefix, one page of maxResults (1..1000,
// 100 when left out); with prefixes, only those of them that exist: the API
// model lists no TemplateNotFoundException for this operation. The next
// token is the page's last prefix, encoded.
func (t *templates) describe(reg registry, body []byte) (any, *apiError) {
	var req describeTemplatesRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	for _, p := range req.Prefixes {
		if err := checkPrefix(&p); err != nil {
			return nil, invalid("prefixes", err.message)
		}
	}
	limit := 100
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 1000 {
			return nil, invalid("maxResults", "Member must have value between 1 and 1000")
		}
		limit = *req.MaxResults
	}
	var after string
	if req.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*req.NextToken)
		if err != nil || len(raw) == 0 {
			return nil, invalid("nextToken", "Member must be a token returned by a previous request")
		}
		after = string(raw)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	var page []*storedTemplate
	for _, s := range t.registries[reg] {
		if s.Prefix > after && (len(req.Prefixes) == 0 || slices.Contains(req.Prefixes, s.Prefix)) {
			page = append(page, s)
		}
	}
	slices.SortFunc(page, func(a, b *storedTemplate) int { return strings.Compare(a.Prefix, b.Prefix) })
	out := map[string]any{"registryId": reg.account}
	if len(page) > limit {
		page = page[:limit]
		out["nextToken"] = base64.RawURLEncoding.EncodeToString([]byte(page[limit-1].Prefix))
	}
	list := make([]storedTemplate, len(page))
	for i, s := range page {
		list[i] = *s
	}
	out["repositoryCreationTemplates"] = list
	return out, nil
}

func templateResponse(reg registry, s *storedTemplate) map[string]any {
	return map[string]any{"registryId": reg.account, "repositoryCreationTemplate": *s}
}

func templateNotFound(reg registry, prefix string) *apiError {
	return &apiError{http.StatusBadRequest, "TemplateNotFoundException",
		fmt.Sprintf("The repository creation template with prefix '%s' does not exist in the registry with id '%s'", prefix, reg.account)}
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// withDefaults is what a request stores: imageTagMutability defaults to
// MUTABLE, as the API reference says for Create and Update.
func (m templateMembers) withDefaults() templateMembers {
	if m.ImageTagMutability == nil {
		m.ImageTagMutability = aws.String("MUTABLE")
	}
	return m
}

// prefixPattern is the Prefix shape's pattern in ECR's API model: lowercase
// path segments, an optional trailing slash, or ROOT.
var prefixPattern = regexp.MustCompile(`^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)$`)

func checkPrefix(prefix *string) *apiError {
	switch {
	case prefix == nil:
		return invalid("prefix", "Member must not be null")
	case len(*prefix) < 1 || len(*prefix) > 256:
		return invalid("prefix", "Member must have length between 1 and 256")
	case !prefixPattern.MatchString(*prefix):
		return invalid("prefix", "must satisfy regular expression '"+prefixPattern.String()+"'")
	}
	return nil
}

var (
	appliedForValues = []string{"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"}
	mutabilityValues = []string{"MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"}
	encryptionTypes  = []string{"AES256", "KMS", "KMS_DSSE"}
	filterPattern    = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)
	kmsKeyPattern    = regexp.MustCompile(`^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+`)
)

// check validates the members a request sets, with the enums and limits of
// the API reference:
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepositoryCreationTemplate.html
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageTagMutabilityExclusionFilter.html
func (m templateMembers) check() *apiError {
	for _, a := range m.AppliedFor {
		if !slices.Contains(appliedForValues, a) {
			return invalid("appliedFor", "Member must satisfy enum value set: ["+strings.Join(appliedForValues, ", ")+"]")
		}
	}
	if err := m.checkMutability(); err != nil {
		return err
	}
	if m.Description != nil && len(*m.Description) > 256 {
		return invalid("description", "Member must have length less than or equal to 256")
	}
	if m.RepositoryPolicy != nil && len(*m.RepositoryPolicy) > 10240 {
		return invalid("repositoryPolicy", "Member must have length less than or equal to 10240")
	}
	if m.LifecyclePolicy != nil && len(*m.LifecyclePolicy) > 30720 {
		return invalid("lifecyclePolicy", "Member must have length less than or equal to 30720")
	}
	if m.CustomRoleArn != nil && len(*m.CustomRoleArn) > 2048 {
		return invalid("customRoleArn", "Member must have length less than or equal to 2048")
	}
	if e := m.EncryptionConfiguration; e != nil {
		if e.EncryptionType == nil || !slices.Contains(encryptionTypes, *e.EncryptionType) {
			return invalid("encryptionConfiguration.encryptionType", "Member must satisfy enum value set: ["+strings.Join(encryptionTypes, ", ")+"]")
		}
		if e.KmsKey != nil && (len(*e.KmsKey) > 2048 || !kmsKeyPattern.MatchString(*e.KmsKey)) {
			return invalid("encryptionConfiguration.kmsKey", "must satisfy regular expression '"+kmsKeyPattern.String()+"'")
		}
	}
	// "Tag keys can have a maximum character length of 128 characters, and
	// tag values can have a maximum length of 256 characters."
	for _, tag := range m.ResourceTags {
		if tag.Key == nil || tag.Value == nil {
			return invalid("resourceTags", "Key and Value must not be null")
		}
		if len(*tag.Key) < 1 || len(*tag.Key) > 128 || len(*tag.Value) > 256 {
			return invalid("resourceTags", "Key must have length between 1 and 128, Value at most 256")
		}
	}
	return nil
}

// checkMutability checks imageTagMutability and its filters: 1 to 5 WILDCARD
// filters, given exactly when the mutability is one of the *_WITH_EXCLUSION
// values (the filters are its exclusions; moto 5.2.1 checks repositories the
// same way).
func (m templateMembers) checkMutability() *apiError {
	mutability := aws.ToString(m.withDefaults().ImageTagMutability)
	if !slices.Contains(mutabilityValues, mutability) {
		return invalid("imageTagMutability", "Member must satisfy enum value set: ["+strings.Join(mutabilityValues, ", ")+"]")
	}
	filters := m.ImageTagMutabilityExclusionFilters
	if filters != nil && (len(filters) < 1 || len(filters) > 5) {
		return invalid("imageTagMutabilityExclusionFilters", "Member must have length between 1 and 5")
	}
	for _, f := range filters {
		if aws.ToString(f.FilterType) != "WILDCARD" {
			return invalid("imageTagMutabilityExclusionFilters", "Member must satisfy enum value set: [WILDCARD]")
		}
		if !filterPattern.MatchString(aws.ToString(f.Filter)) {
			return invalid("imageTagMutabilityExclusionFilters", "must satisfy regular expression '"+filterPattern.String()+"'")
		}
	}
	withExclusion := strings.HasSuffix(mutability, "_WITH_EXCLUSION")
	switch {
	case withExclusion && filters == nil:
		return invalid("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set as "+mutability)
	case !withExclusion && filters != nil:
		return invalid("imageTagMutabilityExclusionFilters", "ImageTagMutabilityExclusionFilters must be null when imageTagMutability is set as "+mutability)
	}
	return nil
}
