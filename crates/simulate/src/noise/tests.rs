#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn noise(load: f64) -> Noise {
    Noise {
        load,
        load_correlation: Duration::from_secs(600),
        ..Noise::default()
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn load_noise_has_the_asked_spread_is_seeded_and_correlated() {
    let day = Duration::from_secs(30 * 86_400);
    let a = LoadNoise::new(&noise(0.1), 7, 0, day);
    let samples: Vec<f64> = (0..30 * 1440).map(|m| a.at(f64::from(m) * 60.0)).collect();
    let (mean, sd) = mean_sd(&samples);
    assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    assert!((sd - 0.1).abs() < 0.01, "sd {sd}");
    // A minute apart the factors barely move; a day apart they are unrelated.
    let step: f64 =
        samples.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (samples.len() - 1) as f64;
    assert!(step < 0.05, "mean change per minute {step}");
    assert_eq!(
        a,
        LoadNoise::new(&noise(0.1), 7, 0, day),
        "same seed, same noise"
    );
    assert_ne!(a, LoadNoise::new(&noise(0.1), 8, 0, day), "another seed");
    assert_ne!(
        a,
        LoadNoise::new(&noise(0.1), 7, 1, day),
        "another workload"
    );
    // Interpolated between grid points, held beyond the end, never negative.
    let mid = a.at(30.0);
    assert!((mid - (a.at(0.0) + a.at(60.0)) / 2.0).abs() < 1e-12);
    assert_eq!(a.at(1e12), a.at(2e12));
    let wild = LoadNoise::new(&noise(2.0), 1, 0, Duration::from_secs(86_400));
    assert!((0..1440).all(|m| wild.at(f64::from(m) * 60.0) >= 0.0));
}

#[test]
fn boot_times_are_log_normal_around_the_median() {
    let median = Duration::from_secs(90);
    let mut b = BootTimes::new(median, Some(Duration::from_secs(150)), 3);
    let mut v: Vec<f64> = (0..20_000).map(|_| b.sample().as_secs_f64()).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[(p * v.len() as f64) as usize];
    assert!((q(0.5) - 90.0).abs() < 3.0, "median {}", q(0.5));
    assert!((q(0.95) - 150.0).abs() < 8.0, "p95 {}", q(0.95));
    let mut fixed = BootTimes::new(median, None, 3);
    assert!((0..10).all(|_| fixed.sample() == median));
}

#[test]
fn poisson_draws_have_the_asked_mean() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n = 50_000;
    let total: u32 = (0..n).map(|_| poisson(&mut rng, 0.3)).sum();
    let mean = f64::from(total) / f64::from(n);
    assert!((mean - 0.3).abs() < 0.01, "mean {mean}");
    assert_eq!(poisson(&mut rng, 0.0), 0);
    assert_eq!(poisson(&mut rng, f64::NAN), 0);
}

#[test]
fn settings_are_checked_and_name_the_field() {
    let raw = |pool: &str, rate: f64| RawNoise {
        spot_interruptions: vec![RawSpotRate {
            pool: pool.into(),
            per_instance_hour: rate,
        }],
        ..RawNoise::default()
    };
    let boot = Duration::from_secs(90);
    let ok = raw("spot", 0.02).validate(&["spot"], boot).unwrap();
    assert_eq!(ok.spot_interruptions, vec![("spot".to_owned(), 0.02)]);
    assert_eq!(ok.load_correlation, Duration::from_secs(600));
    let (field, message) = raw("default", 0.02).validate(&["spot"], boot).unwrap_err();
    assert_eq!(field, "noise.spot_interruptions[0].pool");
    assert!(message.contains("not a spot pool"), "{message}");
    let (field, _) = raw("spot", -1.0).validate(&["spot"], boot).unwrap_err();
    assert_eq!(field, "noise.spot_interruptions[0].per_instance_hour");
    let low = RawNoise {
        boot_time_p95: Some(HumanDuration(Duration::from_secs(60))),
        ..RawNoise::default()
    };
    assert_eq!(
        low.validate(&[], boot).unwrap_err().0,
        "noise.boot_time_p95"
    );
    let wild = RawNoise {
        load: f64::NAN,
        ..RawNoise::default()
    };
    assert_eq!(wild.validate(&[], boot).unwrap_err().0, "noise.load");
    assert_eq!(RawNoise::default().validate(&[], boot).unwrap().load, 0.0);
}
