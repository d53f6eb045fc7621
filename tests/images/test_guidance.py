"""Prompt guidance as a model of (x_t, t): classifier-free and safe-latent guidance, and the
paper's image recipe end to end (one conditional network, expert = base + safety guidance,
trained from DDIM sampling chains) on a tiny random UNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from rr_gym.diffusion import NoiseSchedule
from rr_gym.diffusion.process import DiffusionProcess
from rr_gym.errors import ConfigError, DataError
from rr_gym.images import (
    GuidedImageDiffusion,
    ImageDiffusion,
    ImageReward,
    SafetyGuidance,
    extract_image_reward,
)
from tests.images._unets import conditional_unet

EMB = 6  # cross-attention size of the tiny network
LENGTH = 3  # tokens per prompt


def _stable_diffusion_like(seed: int = 0) -> ImageDiffusion:
    unet = conditional_unet(EMB, seed=seed)
    schedule = NoiseSchedule(50, "scaled_linear", beta_start=0.00085, beta_end=0.012)
    return ImageDiffusion(unet, schedule, clip_denoised=None).eval()


def _eps(model: ImageDiffusion, x: torch.Tensor, t: torch.Tensor, emb: torch.Tensor):
    return model.network_output(x, t, encoder_hidden_states=emb)


@pytest.fixture
def setting():
    sd = _stable_diffusion_like()
    gen = torch.Generator().manual_seed(1)
    negative = torch.randn(LENGTH, EMB, generator=gen)
    concept = torch.randn(LENGTH, EMB, generator=gen)
    x = torch.randn(3, 4, 8, 8, generator=gen)
    t = torch.tensor([40, 20, 2])
    prompts = torch.randn(3, LENGTH, EMB, generator=gen)
    return sd, negative, concept, x, t, prompts


def test_classifier_free_guidance_is_its_formula(setting) -> None:
    sd, negative, _, x, t, prompts = setting
    base = GuidedImageDiffusion(sd, negative, guidance_scale=3.0)
    with torch.no_grad():
        eps_p = _eps(sd, x, t, prompts)
        eps_u = _eps(sd, x, t, negative.expand(3, -1, -1))
        got = base.estimate(x, t, encoder_hidden_states=prompts).eps
    torch.testing.assert_close(got, eps_u + 3.0 * (eps_p - eps_u), rtol=1e-4, atol=1e-5)


def test_safety_guidance_is_sld_equations_4_to_6(setting) -> None:
    sd, negative, concept, x, t, prompts = setting
    safety = SafetyGuidance(concept, scale=50.0, threshold=0.05, start_t=30)
    expert = GuidedImageDiffusion(sd, negative, guidance_scale=3.0, safety=safety)
    base = GuidedImageDiffusion(sd, negative, guidance_scale=3.0)
    with torch.no_grad():
        eps_p = _eps(sd, x, t, prompts)
        eps_u = _eps(sd, x, t, negative.expand(3, -1, -1))
        eps_s = _eps(sd, x, t, concept.expand(3, -1, -1))
        gap = eps_p - eps_s
        mu = torch.where(gap < 0.05, (50.0 * gap.abs()).clamp(max=1.0), torch.zeros_like(gap))
        gamma = mu * (eps_s - eps_u)
        gamma[0] = 0.0  # t = 40 > start_t: SLD's warmup, no safety guidance yet
        want = eps_u + 3.0 * (eps_p - eps_u - gamma)
        got = expert.estimate(x, t, encoder_hidden_states=prompts).eps
        plain = base.estimate(x, t, encoder_hidden_states=prompts).eps
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[0], plain[0])  # warmup
    assert (got[1:] - plain[1:]).abs().max() > 1e-3  # the guidance does act
    # scale 0 switches safety guidance off: the expert is the base
    off = GuidedImageDiffusion(
        sd, negative, guidance_scale=3.0, safety=SafetyGuidance(concept, scale=0.0)
    )
    with torch.no_grad():
        torch.testing.assert_close(off.estimate(x, t, encoder_hidden_states=prompts).eps, plain)


def test_safety_guidance_from_diffusers_safety_config() -> None:
    concept = torch.zeros(LENGTH, EMB)
    steps = torch.tensor([49, 39, 29, 19, 9])
    sld_max = {
        "sld_warmup_steps": 0,
        "sld_guidance_scale": 5000,
        "sld_threshold": 1.0,
        "sld_momentum_scale": 0.5,
        "sld_mom_beta": 0.7,
    }
    with pytest.warns(UserWarning, match="sld_momentum_scale=0.5 ignored"):
        g = SafetyGuidance.from_safety_config(concept, sld_max)
    assert (g.scale, g.threshold, g.start_t) == (5000.0, 1.0, None)
    medium = {"sld_warmup_steps": 2, "sld_guidance_scale": 1000, "sld_threshold": 0.01}
    assert SafetyGuidance.from_safety_config(concept, medium, timesteps=steps).start_t == 29
    with pytest.raises(ConfigError, match="sld_warmup_steps=2 needs the sampler's timesteps"):
        SafetyGuidance.from_safety_config(concept, medium)
    with pytest.raises(ConfigError, match="unknown safety config keys"):
        SafetyGuidance.from_safety_config(concept, {"sld_scale": 1.0})


def test_bad_models_and_embeddings_are_refused(setting) -> None:
    sd, negative, concept, x, t, prompts = setting
    from rr_gym.images import build_unet, default_unet_config

    plain = ImageDiffusion(
        build_unet("UNet2DModel", default_unet_config((1, 8, 8))), NoiseSchedule(10, "linear")
    )
    with pytest.raises(ConfigError, match="without conditioning"):
        GuidedImageDiffusion(plain, negative)
    x0_model = ImageDiffusion(sd.unet, sd.schedule, predict_epsilon=False)
    with pytest.raises(ConfigError, match="predict_epsilon=False"):
        GuidedImageDiffusion(x0_model, negative)
    with pytest.raises(DataError, match=r"negative prompt embeddings have shape \(2, 3, 6\)"):
        GuidedImageDiffusion(sd, torch.zeros(2, LENGTH, EMB))
    with pytest.raises(DataError, match="safety concept embeddings have size 5"):
        GuidedImageDiffusion(sd, negative, safety=SafetyGuidance(torch.zeros(LENGTH, 5)))
    with pytest.raises(DataError, match="NaN"):
        SafetyGuidance(torch.full((LENGTH, EMB), float("nan")))
    with pytest.raises(ConfigError, match="scale=-1"):
        SafetyGuidance(concept, scale=-1.0)
    base = GuidedImageDiffusion(sd, negative)
    with pytest.raises(ConfigError, match="needs encoder_hidden_states"):
        base.estimate(x, t)
    with pytest.raises(DataError, match=r"expected \(3, L, E\)"):
        base.estimate(x, t, encoder_hidden_states=prompts[:2])
    with pytest.raises(DataError, match="differ in length"):
        base.estimate(x, t, encoder_hidden_states=torch.zeros(3, LENGTH + 1, EMB))
    with pytest.raises(DataError, match=r"expected \(B, 4, 8, 8\)"):
        base.check_input(torch.zeros(3, 3, 8, 8))


class PromptGaussians(DiffusionProcess):
    """The exact noise predictor of images N(m(c), STD^2 I) for a prompt c ``(L, 16)``
    whose mean token, reshaped to ``(1, 4, 4)``, is m(c): a conditional model with a known
    answer."""

    conditional = True

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__(schedule, predict_epsilon=True)
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, for .device

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (1, 4, 4)

    def network_output(self, xt, t, encoder_hidden_states):
        mean = encoder_hidden_states.mean(1).reshape(-1, 1, 4, 4)
        ac = self.schedule.coef("alphas_cumprod", t, xt)
        var = ac * STD**2 + 1 - ac
        return (1 - ac).sqrt() * (xt - ac.sqrt() * mean) / var


STD = 0.5


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def test_safe_latent_guidance_reward_is_lower_for_images_like_the_concept() -> None:
    """Known answer: with mu = 1 everywhere (a large scale and threshold) the expert's score
    minus the base's is ``-s_g sqrt(ac) m(concept) / var``, constant in x, so the relative
    reward is linear, falling along the concept's image. Trained on base DDIM chains of
    random prompts, it must rank concept-like images lower and point its gradient away from
    the concept."""
    model = PromptGaussians(NoiseSchedule(50, "scaled_linear", beta_start=0.00085, beta_end=0.012))
    pattern = torch.zeros(1, 4, 4)
    pattern[:, :2] = 1.0
    pattern[:, 2:] = -1.0  # the "harmful" concept: bright top, dark bottom
    concept = pattern.reshape(1, 16).expand(LENGTH, 16)
    negative = torch.zeros(LENGTH, 16)
    base = GuidedImageDiffusion(model, negative, guidance_scale=2.0)
    expert = GuidedImageDiffusion(
        model,
        negative,
        guidance_scale=2.0,
        safety=SafetyGuidance(concept, scale=1e6, threshold=1e6),
    )
    gen = torch.Generator().manual_seed(0)
    prompts = 0.5 * torch.randn(64, LENGTH, 16, generator=gen)
    torch.manual_seed(0)
    reward = extract_image_reward(
        base,
        expert,
        torch.zeros(64, 1, 4, 4),
        conditions={"encoder_hidden_states": prompts},
        source="base_chain",
        chain_sampler="ddim",
        chain_steps=10,
        chain_pool_size=64,
        steps=150,
        channels=(8, 16),
        batch_size=64,
        lr=3e-3,
        seed=0,
        device="cpu",
        progress=False,
    )
    held = torch.Generator().manual_seed(1)
    noise = STD * torch.randn(200, 1, 4, 4, generator=held)
    concept_like, opposite = noise[:100] + 0.6 * pattern, noise[100:] - 0.6 * pattern
    scores = reward.predict(torch.cat([concept_like, opposite]).numpy(), t=0)
    assert roc_auc_score(np.r_[np.zeros(100), np.ones(100)], scores) > 0.95
    grad = reward.gradient(noise[:50], 0).mean(0)
    assert _cosine(grad, -pattern) > 0.9


def test_stable_diffusion_recipe_runs_on_a_tiny_conditional_unet(setting, tmp_path) -> None:
    """The recipe's plumbing with a real diffusers network: one UNet2DConditionModel, base
    = classifier-free guidance, expert = with safe-latent guidance, reward trained on DDIM
    chains of random prompt embeddings; saved and reloaded."""
    sd, negative, concept, *_ = setting
    base = GuidedImageDiffusion(sd, negative, guidance_scale=3.0)
    expert = GuidedImageDiffusion(
        sd,
        negative,
        guidance_scale=3.0,
        safety=SafetyGuidance.from_safety_config(
            concept, {"sld_guidance_scale": 5000, "sld_threshold": 1.0, "sld_warmup_steps": 0}
        ),
    )
    prompts = torch.randn(8, LENGTH, EMB, generator=torch.Generator().manual_seed(2))
    reward = extract_image_reward(
        base,
        expert,
        torch.zeros(8, 4, 8, 8),
        conditions={"encoder_hidden_states": prompts},
        source="base_chain",
        chain_sampler="ddim",
        chain_steps=5,
        chain_pool_size=8,
        steps=10,
        channels=(8, 16),
        batch_size=16,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert reward.training_config["chain_sampler"] == "ddim"
    reward.save(tmp_path / "reward")
    again = ImageReward.load(tmp_path / "reward")
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(again(x, 5), reward(x, 5))
    with pytest.raises(ConfigError, match="DDIM n_steps=99"):
        extract_image_reward(
            base,
            expert,
            torch.zeros(8, 4, 8, 8),
            conditions={"encoder_hidden_states": prompts},
            source="base_chain",
            chain_sampler="ddim",
            chain_steps=99,
            steps=1,
            progress=False,
        )
