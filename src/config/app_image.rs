//! The image each JupyterLab app runs: the SageMaker Distribution image of
//! the stack's region, the one Studio's own UI starts JupyterLab on, or the
//! image (or image version) `app_image` pins. Pure: a table and the rules.
//!
//! AWS refuses a JupyterLab CreateApp without an image (terraform-provider-aws
//! #36008: "I need to specify a sagemaker-Image-arn"), and the image's ARN
//! names an AWS account that differs per region, so it cannot be built
//! from the region alone: it comes from AWS's per-region table.
//!
//! Source, read 2026-12-05 (through stored copies of the pages): the
//! SageMaker developer guide's table of SageMaker Distribution image ARNs
//! per region — "Code Editor application instances and images" (the CPU and
//! GPU images `sagemaker-distribution-cpu|gpu` per region, the same images
//! Studio runs JupyterLab on: the JupyterLab apps the UI creates answer
//! `ResourceSpec.SageMakerImageArn` = `arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu`)
//! and "SageMaker images available for use with Studio Classic"
//! (<https://docs.aws.amazon.com/sagemaker/latest/dg/notebooks-available-images.html>,
//! the "SageMaker Distribution Image ARN Format" column). Two deviations
//! from the Code Editor page, said here so they can be checked: its
//! us-east-2 account has 11 digits (`37914896644`, not an account id); the
//! other page, as AWS's samples that cite it copy it, reads `137914896644`,
//! used below. Its China and GovCloud rows write `arn:aws:` where those
//! partitions' ARNs start `arn:aws-cn:` / `arn:aws-us-gov:`, so they are left
//! out: a stack there pins its image with `app_image` (pre-flight says so).
//!
//! GPU instances get the GPU image: "If you use a GPU instance type ..., you
//! must also use a GPU-based image. The ... space UI automatically selects a
//! compatible image when you select your instance type" (same Code Editor
//! page; the JupyterLab pages say nothing else, and both apps run the same
//! SageMaker Distribution images). GPU types are the `ml.g*` and `ml.p*`
//! families of `AppInstanceType` (`ml.geospatial.interactive` is not one).

/// Each region's account of the SageMaker Distribution images (see the module doc).
pub const DISTRIBUTION_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "885854791233"),
    ("us-east-2", "137914896644"),
    ("us-west-1", "053634841547"),
    ("us-west-2", "542918446943"),
    ("af-south-1", "238384257742"),
    ("ap-east-1", "523751269255"),
    ("ap-south-1", "245090515133"),
    ("ap-northeast-1", "010972774902"),
    ("ap-northeast-2", "064688005998"),
    ("ap-northeast-3", "564864627153"),
    ("ap-southeast-1", "022667117163"),
    ("ap-southeast-2", "648430277019"),
    ("ap-southeast-3", "370607712162"),
    ("ca-central-1", "481561238223"),
    ("eu-central-1", "545423591354"),
    ("eu-west-1", "819792524951"),
    ("eu-west-2", "021081402939"),
    ("eu-west-3", "856416204555"),
    ("eu-north-1", "175620155138"),
    ("eu-south-1", "810671768855"),
    ("sa-east-1", "567556641782"),
    ("me-south-1", "523774347010"),
    ("me-central-1", "358593528301"),
    ("il-central-1", "080319125002"),
];

/// Where the table comes from, for messages.
pub const TABLE_SOURCE: &str = "https://docs.aws.amazon.com/sagemaker/latest/dg/notebooks-available-images.html";

/// The image a JupyterLab app runs: `image` goes to `ResourceSpec.SageMakerImageArn`,
/// `version` (when pinned) to `SageMakerImageVersionArn`, which SageMaker uses
/// when both are given (API reference, ResourceSpec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppImage {
    pub image: String,
    pub version: Option<String>,
}

impl AppImage {
    /// What `status` and `verify` name: the version when pinned, else the image.
    pub fn shown(&self) -> &str {
        self.version.as_deref().unwrap_or(&self.image)
    }

    /// Whether an app (or a default resource spec) with these ARNs runs this image.
    pub fn matches(&self, image: Option<&str>, version: Option<&str>) -> bool {
        match &self.version {
            Some(v) => version == Some(v.as_str()),
            None => image == Some(self.image.as_str()),
        }
    }
}

/// A GPU instance type (`ml.g4dn.xlarge`, `ml.p3.2xlarge`, ...): the GPU image.
pub fn is_gpu(instance_type: &str) -> bool {
    let family = instance_type.strip_prefix("ml.").unwrap_or_default();
    let mut c = family.chars();
    matches!((c.next(), c.next()), (Some('g' | 'p'), Some(d)) if d.is_ascii_digit())
}

/// The region's SageMaker Distribution image for `instance_type` (None: the
/// table does not cover the region).
pub fn distribution_image(region: &str, instance_type: &str) -> Option<String> {
    let (_, account) = DISTRIBUTION_ACCOUNTS.iter().find(|(r, _)| *r == region)?;
    let flavour = if is_gpu(instance_type) { "gpu" } else { "cpu" };
    Some(format!("arn:aws:sagemaker:{region}:{account}:image/sagemaker-distribution-{flavour}"))
}

/// The partition of a region's ARNs (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// An image name as the API reference's ImageArn pattern has it:
/// `[a-zA-Z0-9]([-.]?[a-zA-Z0-9])*` (`lower`: the ImageVersionArn pattern's
/// lowercase-only form).
fn is_image_name(name: &str, lower: bool) -> bool {
    let ok = |c: char| c.is_ascii_digit() || c.is_ascii_lowercase() || (!lower && c.is_ascii_uppercase());
    let b = name.as_bytes();
    !name.is_empty()
        && name.chars().all(|c| ok(c) || c == '-' || c == '.')
        && ok(name.chars().next().unwrap_or('-'))
        && ok(name.chars().last().unwrap_or('-'))
        && !b.windows(2).any(|w| matches!(w, [b'-' | b'.', b'-' | b'.']))
}

/// `app_image` checked against the stack's region: a SageMaker image ARN
/// (`ResourceSpec.SageMakerImageArn`, API reference pattern
/// `^arn:aws(-[\w]+)*:sagemaker:.+:[0-9]{12}:image/[a-zA-Z0-9]([-.]?[a-zA-Z0-9])*$`)
/// or an image version ARN (`SageMakerImageVersionArn`,
/// `^arn:aws(-[\w]+)*:sagemaker:.+:[0-9]{12}:image-version/[a-z0-9]([-.]?[a-z0-9])*/[0-9]+$`),
/// at most 256 characters, in the region's partition and the region itself
/// (SageMaker runs an app on an image of its own region). Err: the rule broken.
pub fn parse(value: &str, region: &str) -> Result<AppImage, String> {
    let rule = "a SageMaker image ARN (arn:PARTITION:sagemaker:REGION:ACCOUNT:image/NAME) or image version ARN (.../image-version/NAME/VERSION)";
    if value.len() > 256 {
        return Err(format!("is {} characters; SageMaker allows at most 256", value.len()));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, part, service, reg, account, resource] = parts[..] else {
        return Err(format!("is not {rule}"));
    };
    if arn != "arn" || service != "sagemaker" || !part.starts_with("aws") || reg.is_empty() {
        return Err(format!("is not {rule}"));
    }
    if !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("has account '{account}', not 12 digits ({rule})"));
    }
    let image = match resource.split('/').collect::<Vec<_>>()[..] {
        ["image", name] if is_image_name(name, false) => None,
        ["image-version", name, version]
            if is_image_name(name, true) && !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) =>
        {
            Some(format!("arn:{part}:sagemaker:{reg}:{account}:image/{name}"))
        }
        _ => return Err(format!("names '{resource}', not image/NAME or image-version/NAME/VERSION ({rule})")),
    };
    let want = partition(region);
    if part != want {
        return Err(format!("is in partition '{part}'; the stack's region {region} is in '{want}'"));
    }
    if reg != region {
        return Err(format!(
            "is an image of region {reg}; the stack's apps run in {region}, on an image of that region"
        ));
    }
    Ok(match image {
        None => AppImage { image: value.to_string(), version: None },
        Some(image) => AppImage { image, version: Some(value.to_string()) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_each_region_its_own_account_and_gpu_types_the_gpu_image() {
        assert_eq!(
            distribution_image("us-east-1", "ml.t3.medium").as_deref(),
            Some("arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu")
        );
        assert_eq!(
            distribution_image("eu-west-1", "ml.g5.xlarge").as_deref(),
            Some("arn:aws:sagemaker:eu-west-1:819792524951:image/sagemaker-distribution-gpu")
        );
        assert_eq!(distribution_image("cn-north-1", "ml.t3.medium"), None);
        for (region, account) in DISTRIBUTION_ACCOUNTS {
            assert!(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()), "{region}: {account}");
        }
        // The regions of the original sample (the README's examples): no `app_image` needed there.
        for r in ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-2"] {
            assert!(distribution_image(r, "ml.t3.medium").is_some(), "{r}: a sample region the table lacks");
        }
        assert!(is_gpu("ml.p4d.24xlarge") && is_gpu("ml.g6e.xlarge"));
        assert!(!is_gpu("ml.geospatial.interactive") && !is_gpu("ml.m5.large") && !is_gpu("ml.trn1.2xlarge"));
    }

    #[test]
    fn app_image_must_be_an_image_or_version_arn_of_the_region() {
        let img = "arn:aws:sagemaker:us-east-1:123456789012:image/my-image";
        assert_eq!(parse(img, "us-east-1"), Ok(AppImage { image: img.into(), version: None }));
        let v = "arn:aws:sagemaker:us-east-1:885854791233:image-version/sagemaker-distribution-cpu/12";
        assert_eq!(
            parse(v, "us-east-1"),
            Ok(AppImage {
                image: "arn:aws:sagemaker:us-east-1:885854791233:image/sagemaker-distribution-cpu".into(),
                version: Some(v.into())
            })
        );
        for (bad, why) in [
            ("my-image", "is not a SageMaker image ARN"),
            ("arn:aws:ecr:us-east-1:123456789012:repository/x", "is not a SageMaker image ARN"),
            ("arn:aws:sagemaker:us-east-1:1234:image/x", "has account '1234'"),
            ("arn:aws:sagemaker:us-east-1:123456789012:app/x", "names 'app/x'"),
            ("arn:aws:sagemaker:us-east-1:123456789012:image/-x", "names 'image/-x'"),
            ("arn:aws:sagemaker:us-east-1:123456789012:image-version/x/latest", "names"),
            ("arn:aws:sagemaker:us-west-2:123456789012:image/x", "is an image of region us-west-2"),
            ("arn:aws-cn:sagemaker:us-east-1:123456789012:image/x", "is in partition 'aws-cn'"),
        ] {
            let e = parse(bad, "us-east-1").unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
